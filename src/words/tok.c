/*
 * tok.c - streaming tokenizer and UTF-8 validator (see tok.h).
 */
#include "src/words/tok.h"

#include <string.h>

/* ASCII whitespace: U+0009..U+000D and U+0020. */
static const bool ascii_space[128] = {
    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
};

int
utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    int n;

    if (c < 0x80)
        return 1;
    if (c < 0xc2 || c > 0xf4)
        return 0;
    if (c < 0xe0) {
        n = 2;
    } else if (c < 0xf0) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    }
    for (int i = 1; i < n; i++) {
        if (p + i >= end)
            return -1;
        unsigned char b = p[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf))
            return 0;
    }
    return n;
}

bool
utf8_is_space(const unsigned char *p, int n)
{
    if (n == 1)
        return p[0] < 128 && ascii_space[p[0]];
    if (n == 2)
        return p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0);
    if (n != 3)
        return false;
    if (p[0] == 0xe1)
        return p[1] == 0x9a && p[2] == 0x80;
    if (p[0] == 0xe3)
        return p[1] == 0x80 && p[2] == 0x80;
    if (p[0] != 0xe2)
        return false;
    if (p[1] == 0x80)
        return p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf;
    return p[1] == 0x81 && p[2] == 0x9f;
}

long
utf8_check(const char *s, size_t len)
{
    const unsigned char *p, *end;

    if (len == 0)
        return -1; /* s may be NULL (an empty buf_t) */
    p = (const unsigned char *) s;
    end = p + len;

    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = utf8_seq(p, end);
        if (n <= 0)
            return (long) (p - (const unsigned char *) s);
        p += n;
    }
    return -1;
}

void
tok_init(tok_t *t, size_t max_word, tok_word_fn fn, void *arg)
{
    buf_t keep = t->word;

    memset(t, 0, sizeof(*t));
    t->word = keep;
    t->word.len = 0;
    t->fn = fn;
    t->arg = arg;
    t->max_word = max_word;
}

void
tok_free(tok_t *t)
{
    buf_free(&t->word);
}

static tok_err_e
tok_fail(tok_t *t, tok_err_e e, uint64_t off)
{
    t->err = e;
    t->err_off = off;
    return e;
}

/* Appends bytes of the open word to the carry buffer. */
static tok_err_e
carry_add(tok_t *t, const char *p, size_t n)
{
    if (t->word.len + n > t->max_word)
        return tok_fail(t, TOK_WORD_TOO_LONG, t->word_off);
    buf_append(&t->word, p, n);
    return TOK_OK;
}

/* Ends the word [start, end) of the chunk; start == NULL when the word
 * lives only in the carry buffer. */
static tok_err_e
word_end(tok_t *t, const char *start, const char *end)
{
    if (t->carry) {
        if (start != NULL && carry_add(t, start, (size_t) (end - start)))
            return t->err;
        if (t->word.len > 0)
            t->fn(t->arg, t->word.data, t->word.len);
        t->word.len = 0;
        t->carry = false;
        return TOK_OK;
    }
    if (start != NULL && end > start) {
        if ((size_t) (end - start) > t->max_word)
            return tok_fail(t, TOK_WORD_TOO_LONG, t->word_off);
        t->fn(t->arg, start, (size_t) (end - start));
    }
    return TOK_OK;
}

/* Completes a character split across chunks.  Returns bytes of data used,
 * or -1 on error (t->err set); leaves t->npend > 0 if data ran out. */
static long
finish_pending(tok_t *t, const unsigned char *data, size_t len)
{
    unsigned char tmp[4];
    size_t take = 0;
    int n;

    memcpy(tmp, t->pend, t->npend);
    for (;;) {
        n = utf8_seq(tmp, tmp + t->npend + take);
        if (n != -1 || take == len || t->npend + take == 4)
            break;
        tmp[t->npend + take] = data[take];
        take++;
    }
    uint64_t lead_off = t->off - t->npend;
    if (n == -1) { /* still incomplete */
        memcpy(t->pend, tmp, t->npend + take);
        t->npend += (unsigned) take;
        return (long) take;
    }
    if (n == 0)
        return tok_fail(t, TOK_BAD_UTF8, lead_off), -1;
    take = (size_t) n - t->npend;
    t->npend = 0;
    if (utf8_is_space(tmp, n)) {
        if (word_end(t, NULL, NULL) != TOK_OK)
            return -1;
    } else {
        if (!t->carry) {
            t->carry = true;
            t->word_off = lead_off;
        }
        if (carry_add(t, (const char *) tmp, (size_t) n) != TOK_OK)
            return -1;
    }
    return (long) take;
}

tok_err_e
tok_feed(tok_t *t, const char *data, size_t len)
{
    const unsigned char *base = (const unsigned char *) data;
    const unsigned char *p = base, *end = base + len;
    const unsigned char *start = NULL; /* open word inside this chunk */
    uint64_t off0 = t->off;            /* body offset of data[0] */
    size_t carried;                    /* bytes of start's word before */

    if (t->err != TOK_OK)
        return t->err;
    if (t->npend > 0) {
        long used = finish_pending(t, p, len);
        if (used < 0)
            return t->err;
        p += used;
        if (t->npend > 0) {
            t->off = off0 + len;
            return TOK_OK;
        }
    }
    if (t->carry)
        start = p;
    carried = t->carry ? t->word.len : 0;
    while (p < end) {
        unsigned char c = *p;
        int n = 1;

        if (c >= 0x80) {
            n = utf8_seq(p, end);
            if (n == -1) { /* split character: keep it */
                t->npend = (unsigned) (end - p);
                memcpy(t->pend, p, t->npend);
                break;
            }
            if (n == 0)
                return tok_fail(t, TOK_BAD_UTF8, off0 + (uint64_t) (p - base));
        }
        if (n == 1 ? !ascii_space[c] : !utf8_is_space(p, n)) {
            if (start == NULL) {
                start = p;
                t->word_off = off0 + (uint64_t) (p - base);
            }
            p += n;
            /* A word is too long at the character that passes max_word,
             * wherever the chunks end: the first error in byte order wins
             * (an invalid byte later in the same word is not reached). */
            if (unlikely(carried + (size_t) (p - start) > t->max_word))
                return tok_fail(t, TOK_WORD_TOO_LONG, t->word_off);
            continue;
        }
        if (start != NULL) {
            if (word_end(t, (const char *) start, (const char *) p))
                return t->err;
            start = NULL;
            carried = 0;
        }
        p += n;
    }
    if (start != NULL) {
        const unsigned char *stop = end - t->npend;
        if (!t->carry) {
            t->carry = true;
            t->word.len = 0;
        }
        if (carry_add(t, (const char *) start, (size_t) (stop - start)))
            return t->err;
    }
    t->off = off0 + len;
    return TOK_OK;
}

tok_err_e
tok_finish(tok_t *t)
{
    if (t->err != TOK_OK)
        return t->err;
    if (t->npend > 0)
        return tok_fail(t, TOK_BAD_UTF8, t->off - t->npend);
    return word_end(t, NULL, NULL);
}
