/*
 * test_route.c - request routing and the JSON of error responses.
 */
#include <criterion/criterion.h>

#include "worker/wrk.h"

#include <cjson/cJSON.h>
#include <string.h>

static wrk_t w;
static conn_t c;

static void
setup(void)
{
    static conf_t conf;
    memset(&w, 0, sizeof(w));
    memset(&c, 0, sizeof(c));
    conf_defaults(&conf);
    w.conf = &conf;
    c.w = &w;
    http_parser_init(&c.parser, HTTP_REQUEST);
    c.parser.http_major = 1;
    c.parser.http_minor = 1;
}

TestSuite(route, .init = setup);

static route_e
find(const char *path, int method)
{
    c.allow = NULL;
    return route_find(&c, path, strlen(path), method);
}

Test(route, every_endpoint_with_its_method)
{
    cr_assert_eq(find("/api/v1/upload", HTTP_POST), RT_UPLOAD);
    cr_assert_eq(find("/api/v1/wordcount", HTTP_GET), RT_WORDCOUNT);
    cr_assert_eq(find("/api/v1/allwords", HTTP_GET), RT_ALLWORDS);
    cr_assert_eq(find("/api/v1/top", HTTP_GET), RT_TOP);
    cr_assert_eq(find("/api/v1/status", HTTP_GET), RT_STATUS);
    cr_assert_eq(find("/healthz", HTTP_GET), RT_HEALTHZ);
    cr_assert_eq(find("/openapi.yaml", HTTP_GET), RT_OPENAPI);
    cr_assert_eq(find("/docs", HTTP_GET), RT_DOCS);
    cr_assert_null(c.allow);
}

Test(route, wrong_method_names_the_allowed_one)
{
    cr_assert_eq(find("/api/v1/upload", HTTP_GET), RT_NONE);
    cr_assert_str_eq(c.allow, "POST");
    cr_assert_eq(find("/api/v1/wordcount", HTTP_POST), RT_NONE);
    cr_assert_str_eq(c.allow, "GET, HEAD");
    cr_assert_eq(find("/api/v1/upload", HTTP_HEAD), RT_NONE);
    cr_assert_str_eq(c.allow, "POST");
}

Test(route, head_is_served_wherever_get_is)
{
    const char *paths[] = {
        "/api/v1/wordcount", "/api/v1/allwords", "/api/v1/top",
        "/api/v1/status",    "/healthz",         "/api/v1/cluster/nodes",
        "/metrics",          "/openapi.yaml",    "/docs"
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        route_e r = find(paths[i], HTTP_GET);
        cr_assert_neq(r, RT_NONE, "%s", paths[i]);
        cr_assert_eq(find(paths[i], HTTP_HEAD), r, "HEAD %s", paths[i]);
        cr_assert_null(c.allow, "%s", paths[i]);
    }
}

Test(route, unknown_paths_are_not_found)
{
    const char *paths[] = { "/",
                            "/api/v1/",
                            "/api/v1/uploads",
                            "/api/v1/upload/",
                            "/API/V1/UPLOAD",
                            "/api/v1/wordcount/x",
                            "/healthz2" };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        cr_assert_eq(find(paths[i], HTTP_GET), RT_NONE, "%s", paths[i]);
        cr_assert_null(c.allow, "%s", paths[i]);
    }
}

static cJSON *
body_json(void)
{
    char *end = strstr(c.out.data, "\r\n\r\n");
    cr_assert_not_null(end);
    return cJSON_ParseWithLength(end + 4,
                                 c.out.len - (size_t) (end + 4 - c.out.data));
}

Test(route, error_response_is_json_with_status)
{
    resp_error_at(&c, 413, "request body too large", "limit", 1024);
    cr_assert(strncmp(c.out.data, "HTTP/1.1 413 Content Too Large\r\n", 32)
              == 0);
    cr_assert_not_null(strstr(c.out.data, "Content-Type: application/json"));
    cJSON *j = body_json();
    cr_assert_not_null(j);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "error")->valuestring,
                     "request body too large");
    cr_assert_eq(cJSON_GetObjectItem(j, "status")->valueint, 413);
    cr_assert_eq(cJSON_GetObjectItem(j, "limit")->valuedouble, 1024);
    cJSON_Delete(j);
    buf_free(&c.out);
    buf_free(&w.tmp);
}

Test(route, content_length_matches_body)
{
    resp_error(&c, 404, "no such endpoint \"quoted\"");
    char *cl = strstr(c.out.data, "Content-Length: ");
    cr_assert_not_null(cl);
    long n = strtol(cl + 16, NULL, 10);
    char *end = strstr(c.out.data, "\r\n\r\n") + 4;
    cr_assert_eq((size_t) n, c.out.len - (size_t) (end - c.out.data));
    cJSON *j = body_json();
    cr_assert_str_eq(cJSON_GetObjectItem(j, "error")->valuestring,
                     "no such endpoint \"quoted\"");
    cJSON_Delete(j);
    buf_free(&c.out);
    buf_free(&w.tmp);
}

Test(route, method_not_allowed_has_allow_header)
{
    find("/api/v1/upload", HTTP_GET);
    resp_error(&c, 405, "method not allowed");
    cr_assert_not_null(strstr(c.out.data, "\r\nAllow: POST\r\n"));
    buf_free(&c.out);
    buf_free(&w.tmp);
}

Test(route, close_is_announced)
{
    c.want_close = true;
    resp_error(&c, 400, "bad");
    cr_assert_not_null(strstr(c.out.data, "\r\nConnection: close\r\n"));
    buf_free(&c.out);
    buf_free(&w.tmp);
}
