/*
 * tok.h - the word tokenizer and UTF-8 validator, streaming.
 *
 * A word is a maximal run of bytes that are not whitespace, whitespace
 * being the Unicode White_Space set: U+0009..U+000D, U+0020, U+0085,
 * U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
 * Input must be well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF); the first bad byte stops the
 * tokenizer with its offset.  Body chunks may split a word or a character
 * anywhere: the tokenizer carries the partial word (at most max_word bytes)
 * and the partial character (at most 3 bytes) to the next chunk.
 */
#ifndef MEMDB_SRC_WORDS_TOK_H
#define MEMDB_SRC_WORDS_TOK_H

#include "src/core/memdb.h"
#include "src/core/buf.h"

typedef void (*tok_word_fn)(void *arg, const char *word, size_t len);

typedef enum {
    TOK_OK = 0,
    TOK_BAD_UTF8,      /* err_off: first byte of the bad sequence */
    TOK_WORD_TOO_LONG, /* err_off: first byte of the word */
} tok_err_e;

typedef struct tok_s {
    tok_word_fn fn;
    void *arg;
    size_t max_word;
    uint64_t off;          /* body bytes consumed before this chunk */
    buf_t word;            /* partial word carried across chunks */
    bool carry;            /* a word is open at the end of a chunk */
    uint64_t word_off;     /* offset of the open word */
    unsigned char pend[4]; /* partial character */
    unsigned npend;
    tok_err_e err;
    uint64_t err_off;
} tok_t;

/* t must be zeroed before its first tok_init(); later calls reuse its
 * carry buffer. */
void tok_init(tok_t *t, size_t max_word, tok_word_fn fn, void *arg);
/* Feeds one chunk.  TOK_OK or the error (also kept in t->err). */
tok_err_e tok_feed(tok_t *t, const char *data, size_t len);
/* Ends the input: emits the last word, fails on a truncated character. */
tok_err_e tok_finish(tok_t *t);
void tok_free(tok_t *t);

/* Length of the UTF-8 sequence at p (1..4), 0 when it is malformed, -1 when
 * it is a valid prefix cut off by end. */
int utf8_seq(const unsigned char *p, const unsigned char *end);
/* Offset of the first malformed byte, or -1 when s is valid UTF-8. */
long utf8_check(const char *s, size_t len);
/* True if the sequence (1..4 bytes, valid) is a White_Space character. */
bool utf8_is_space(const unsigned char *p, int n);

#endif
