/*
 * apidoc.c - the API description, compiled into the binary by make
 * (apidoc-data.c, generated from swagger/openapi.yaml and from the HTML
 * page that redocly builds from it; see Makefile.am):
 *   GET /openapi.yaml    the OpenAPI document
 *   GET /docs            the API reference, one self-contained HTML page
 */
#include "worker/wrk.h"

extern const unsigned char memdb_openapi_yaml[];
extern const size_t memdb_openapi_yaml_len;
extern const unsigned char memdb_docs_html[];
extern const size_t memdb_docs_html_len;

void
apidoc_handle(conn_t *c)
{
    if (c->route == RT_OPENAPI)
        stream_static(c, "application/yaml", (const char *) memdb_openapi_yaml,
                      memdb_openapi_yaml_len);
    else
        stream_static(c, "text/html; charset=utf-8",
                      (const char *) memdb_docs_html, memdb_docs_html_len);
}
