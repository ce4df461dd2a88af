/*
 * url.h - percent-decoding and query strings (application/x-www-form-
 * urlencoded: '+' is a space, %XX a byte), and the syntax of a Host field.
 */
#ifndef MEMDB_SRC_CORE_URL_H
#define MEMDB_SRC_CORE_URL_H

#include "src/core/buf.h"

/* Appends the decoded form of s to out.  MEMDB_ERR on a bad %-escape. */
int url_decode(buf_t *out, const char *s, size_t len);
/* The same for a path segment, where '+' is itself. */
int url_decode_path(buf_t *out, const char *s, size_t len);

typedef struct url_query_s {
    const char *p, *end;
} url_query_t;

void url_query_init(url_query_t *q, const char *s, size_t len);
/* Next key=value pair, decoded into key and val (both reset first).
 * MEMDB_OK, MEMDB_AGAIN at the end, MEMDB_ERR on a bad escape. */
int url_query_next(url_query_t *q, buf_t *key, buf_t *val);

/* true if s is a valid Host field value: uri-host [":" port] (RFC 9112
 * section 3.2, RFC 3986 section 3.2.2); empty is valid. */
bool url_host_valid(const char *s, size_t len);

#endif
