/*
 * json.h - writing JSON into a buf_t.
 *
 * Strings are escaped per RFC 8259: '"', '\\' and every control character
 * below U+0020 are escaped; everything else is copied as is, so the input
 * must be valid UTF-8 (every word in the store is validated on upload, every
 * word in a query before it is looked up).  cJSON is used where a whole
 * document is read (memdbctl, tests); responses are written here, since the
 * big ones are streamed and must not be built in memory first.
 */
#ifndef MEMDB_SRC_CORE_JSON_H
#define MEMDB_SRC_CORE_JSON_H

#include "src/core/buf.h"

void json_str(buf_t *b, const char *s, size_t len);
static inline void
json_cstr(buf_t *b, const char *s)
{
    json_str(b, s, strlen(s));
}
/* "key": (with the comma when !first) */
void json_key(buf_t *b, const char *key, bool first);
void json_kv_u64(buf_t *b, const char *key, uint64_t v, bool first);
void json_kv_str(buf_t *b, const char *key, const char *v, bool first);

#endif
