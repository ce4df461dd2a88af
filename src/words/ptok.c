/*
 * ptok.c - the streaming tokenizer of a profile (see prof.h for what it
 * emits and the safe-cut rule).
 *
 * The default profile is tok_t itself (t->fast).  Any other one works in
 * three steps:
 *
 *   feed    appends the chunk to t->in (the text since the last cut) and
 *           validates it (t->valid: whole, valid characters);
 *   cut     once more than t->piece bytes are valid, finds the last safe
 *           cut within them (or the first one after, up to t->window
 *           bytes; none there: a forced cut at the window), and
 *           tokenizes in[0..cut) as one piece, which it drops;
 *   piece   converts the piece to UTF-16 (t->u16), normalizes it (t->nrm,
 *           only when a quick check says it is not normalized already),
 *           splits it (White_Space, or the break iterator t->brk over the
 *           UTF-16 buffer), and runs each word through fold, trim, the
 *           length limits and the stopwords into t->out (UTF-8), then
 *           emits it and its n-grams (t->gram, t->hist).
 *
 * Cuts fall at places that depend only on the text (safe cuts, and the
 * forced cut at window bytes after the previous cut when there was none),
 * and a piece tokenizes exactly as it would inside the whole text, so the
 * terms do not depend on the chunking.  t->scan remembers how far the
 * text after the last cut is known to hold no safe cut, so small chunks
 * do not rescan it.  The work buffers only grow; nothing is allocated per
 * word once they are big enough.
 */
#include "src/words/prof.h"
#include "src/core/log.h"

#include <string.h>

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#define PTOK_PIECE (16 * 1024) /* bytes tokenized at once, about */

static const bool ascii_space[128] = {
    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
};

/* ---- life cycle ---------------------------------------------------------- */

int
ptok_init(ptok_t *t, const prof_t *p, size_t max_word, tok_word_fn fn,
          void *arg)
{
    ptok_t keep = *t;
    UErrorCode st = U_ZERO_ERROR;

    memset(t, 0, sizeof(*t));
    t->tok = keep.tok;
    t->brk = keep.brk;
#define KEEP(f) (t->f = keep.f, t->f.len = 0)
    KEEP(in);
    KEEP(u16);
    KEEP(nrm);
    KEEP(fld);
    KEEP(out);
    KEEP(gram);
    for (unsigned i = 0; i < MEMDB_NELEM(t->hist); i++)
        KEEP(hist[i].w);
#undef KEEP
    t->p = p;
    t->fn = fn;
    t->arg = arg;
    t->max_word = max_word;
    t->window = PTOK_WINDOW;
    t->piece = PTOK_PIECE;
    t->fast = prof_is_default(p);
    if (t->fast) {
        tok_init(&t->tok, max_word, fn, arg);
        return MEMDB_OK;
    }
    if (p->normalize == PROF_NORM_NFC)
        t->norm = unorm2_getNFCInstance(&st);
    else if (p->normalize == PROF_NORM_NFKC)
        t->norm = unorm2_getNFKCInstance(&st);
    if (U_FAILURE(st)) {
        log_error("unorm2_get%sInstance() failed: %s",
                  p->normalize == PROF_NORM_NFC ? "NFC" : "NFKC",
                  u_errorName(st));
        return MEMDB_ERR;
    }
    if (p->split == PROF_SPLIT_UNICODE && t->brk == NULL) {
        t->brk = ubrk_open(UBRK_WORD, "", NULL, 0, &st);
        if (U_FAILURE(st)) {
            log_error("ubrk_open(UBRK_WORD) failed: %s", u_errorName(st));
            t->brk = NULL;
            return MEMDB_ERR;
        }
    }
    return MEMDB_OK;
}

void
ptok_free(ptok_t *t)
{
    tok_free(&t->tok);
    buf_free(&t->in);
    buf_free(&t->u16);
    buf_free(&t->nrm);
    buf_free(&t->fld);
    buf_free(&t->out);
    buf_free(&t->gram);
    for (unsigned i = 0; i < MEMDB_NELEM(t->hist); i++)
        buf_free(&t->hist[i].w);
    if (t->brk != NULL)
        ubrk_close(t->brk);
    t->brk = NULL;
}

tok_err_e
ptok_err(const ptok_t *t, uint64_t *err_off)
{
    tok_err_e e = t->fast ? t->tok.err : t->err;

    if (err_off != NULL)
        *err_off = t->fast ? t->tok.err_off : t->err_off;
    return e;
}

static tok_err_e
ptok_fail(ptok_t *t, tok_err_e e, uint64_t off)
{
    t->err = e;
    t->err_off = off;
    return e;
}

/* ---- terms ------------------------------------------------------------- */

/* Body offset of the UTF-16 offset i16 of the piece (exact when the piece
 * was not normalized; else the piece's start).  Offsets asked for only
 * grow within a piece. */
static uint64_t
map_off(ptok_t *t, size_t i16)
{
    const unsigned char *s = (const unsigned char *) t->pc;

    if (t->pc_nrm)
        return t->pc_off;
    while (t->map16 < i16 && t->map8 < t->pc_len) {
        unsigned char c = s[t->map8];
        size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

        t->map8 += n;
        t->map16 += n == 4 ? 2 : 1;
    }
    return t->pc_off + t->map8;
}

/* Remembers the kept word w for the n-grams of the next words. */
static void
hist_push(ptok_t *t, const char *w, size_t len, uint64_t off)
{
    unsigned max = t->p->ngrams - 1u;
    ptok_hist_t tmp;

    if (t->nhist == max) {
        tmp = t->hist[0];
        memmove(&t->hist[0], &t->hist[1], (max - 1) * sizeof(tmp));
        t->hist[max - 1] = tmp;
        t->nhist--;
    }
    t->hist[t->nhist].w.len = 0;
    buf_append(&t->hist[t->nhist].w, w, len);
    t->hist[t->nhist].off = off;
    t->nhist++;
}

/* Emits the n-grams that end with w (n = 2..ngrams), then remembers w. */
static tok_err_e
emit_ngrams(ptok_t *t, const char *w, size_t len, uint64_t off)
{
    for (unsigned n = 2; n <= t->p->ngrams && n - 1 <= t->nhist; n++) {
        unsigned first = t->nhist - (n - 1);

        t->gram.len = 0;
        for (unsigned i = first; i < t->nhist; i++) {
            buf_append(&t->gram, t->hist[i].w.data, t->hist[i].w.len);
            buf_putc(&t->gram, ' ');
        }
        buf_append(&t->gram, w, len);
        if (t->gram.len > t->max_word)
            return ptok_fail(t, TOK_WORD_TOO_LONG, t->hist[first].off);
        t->fn(t->arg, t->gram.data, t->gram.len);
    }
    hist_push(t, w, len, off);
    return TOK_OK;
}

/* Folds w[0..*n) into t->fld when the profile folds; returns the word. */
static const UChar *
word_fold(ptok_t *t, const UChar *w, int32_t *n)
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t m, cap = (int32_t) (t->fld.cap / sizeof(UChar));

    m = u_strFoldCase((UChar *) t->fld.data, cap, w, *n, U_FOLD_CASE_DEFAULT,
                      &st);
    if (st == U_BUFFER_OVERFLOW_ERROR || cap == 0) {
        buf_reserve(&t->fld, ((size_t) m + 16) * sizeof(UChar));
        st = U_ZERO_ERROR;
        cap = (int32_t) (t->fld.cap / sizeof(UChar));
        m = u_strFoldCase((UChar *) t->fld.data, cap, w, *n,
                          U_FOLD_CASE_DEFAULT, &st);
    }
    *n = U_SUCCESS(st) ? m : 0;
    return (const UChar *) t->fld.data;
}

/* Strips leading and trailing punctuation (General_Category P*). */
static const UChar *
word_trim(const UChar *w, int32_t *n)
{
    int32_t a = 0, b = *n;

    while (a < b) {
        int32_t i = a;
        UChar32 c;

        U16_NEXT(w, i, b, c);
        if (!u_ispunct(c))
            break;
        a = i;
    }
    while (b > a) {
        int32_t i = b;
        UChar32 c;

        U16_PREV(w, a, i, c);
        if (!u_ispunct(c))
            break;
        b = i;
    }
    *n = b - a;
    return w + a;
}

/* One word of the split text at UTF-16 offset at of the piece, through
 * steps 3 to 5. */
static tok_err_e
word(ptok_t *t, const UChar *w, int32_t n, size_t at)
{
    const prof_t *p = t->p;
    UErrorCode st = U_ZERO_ERROR;
    int32_t len8;
    uint64_t off = 0;

    if (p->fold)
        w = word_fold(t, w, &n);
    if (p->trim)
        w = word_trim(w, &n);
    if (n == 0)
        return TOK_OK;
    if (p->min_length != 0 || p->max_length != 0) {
        int32_t cps = u_countChar32(w, n);

        if ((uint32_t) cps < p->min_length
            || (p->max_length != 0 && (uint32_t) cps > p->max_length))
            return TOK_OK;
    }
    buf_reserve(&t->out, (size_t) n * 3 + 1);
    u_strToUTF8(t->out.data, (int32_t) t->out.cap, &len8, w, n, &st);
    if (U_FAILURE(st))
        return TOK_OK; /* cannot be: the text is valid */
    if (p->nstop != 0 && prof_is_stopword(p, t->out.data, (size_t) len8))
        return TOK_OK;
    if ((size_t) len8 > t->max_word || p->ngrams > 1)
        off = map_off(t, at);
    if ((size_t) len8 > t->max_word)
        return ptok_fail(t, TOK_WORD_TOO_LONG, off);
    t->fn(t->arg, t->out.data, (size_t) len8);
    if (p->ngrams > 1)
        return emit_ngrams(t, t->out.data, (size_t) len8, off);
    return TOK_OK;
}

/* ---- pieces ------------------------------------------------------------ */

static bool
u16_space(UChar32 c)
{
    return c < 0x80 ? ascii_space[c] : u_isUWhiteSpace(c);
}

static tok_err_e
split_whitespace(ptok_t *t, const UChar *s, int32_t n)
{
    int32_t i = 0, start = -1;

    while (i < n) {
        int32_t at = i;
        UChar32 c;

        U16_NEXT(s, i, n, c);
        if (!u16_space(c)) {
            if (start < 0)
                start = at;
            continue;
        }
        if (start >= 0 && word(t, s + start, at - start, (size_t) start))
            return t->err;
        start = -1;
    }
    if (start >= 0 && word(t, s + start, n - start, (size_t) start))
        return t->err;
    return TOK_OK;
}

static tok_err_e
split_unicode(ptok_t *t, const UChar *s, int32_t n)
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t a, b;

    ubrk_setText(t->brk, s, n, &st);
    if (U_FAILURE(st))
        return TOK_OK; /* cannot be: the iterator and text are fine */
    a = ubrk_first(t->brk);
    while ((b = ubrk_next(t->brk)) != UBRK_DONE) {
        if (ubrk_getRuleStatus(t->brk) >= UBRK_WORD_NONE_LIMIT
            && word(t, s + a, b - a, (size_t) a) != TOK_OK)
            return t->err;
        a = b;
    }
    return TOK_OK;
}

/* Normalizes s[0..n) into t->nrm if it is not normalized already. */
static const UChar *
piece_normalize(ptok_t *t, const UChar *s, int32_t *n)
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t k, m, cap;

    k = unorm2_spanQuickCheckYes(t->norm, s, *n, &st);
    if (U_FAILURE(st) || k == *n)
        return s;
    buf_reserve(&t->nrm, ((size_t) *n * 2 + 16) * sizeof(UChar));
    cap = (int32_t) (t->nrm.cap / sizeof(UChar));
    m = unorm2_normalize(t->norm, s, *n, (UChar *) t->nrm.data, cap, &st);
    if (st == U_BUFFER_OVERFLOW_ERROR) {
        buf_reserve(&t->nrm, ((size_t) m + 16) * sizeof(UChar));
        st = U_ZERO_ERROR;
        cap = (int32_t) (t->nrm.cap / sizeof(UChar));
        m = unorm2_normalize(t->norm, s, *n, (UChar *) t->nrm.data, cap, &st);
    }
    if (U_FAILURE(st))
        return s;
    t->pc_nrm = true;
    *n = m;
    return (const UChar *) t->nrm.data;
}

/* Tokenizes in[0..n) as one piece of the text and drops it from t->in. */
static tok_err_e
piece(ptok_t *t, size_t n)
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t len16 = 0;
    const UChar *s;
    tok_err_e e = TOK_OK;

    t->pc = t->in.data + t->head;
    t->pc_len = n;
    t->pc_off = t->in_off;
    t->pc_nrm = false;
    t->map8 = t->map16 = 0;
    buf_reserve(&t->u16, (n + 1) * sizeof(UChar));
    u_strFromUTF8((UChar *) t->u16.data, (int32_t) (n + 1), &len16, t->pc,
                  (int32_t) n, &st);
    s = (const UChar *) t->u16.data;
    if (U_SUCCESS(st)) {
        if (t->norm != NULL)
            s = piece_normalize(t, s, &len16);
        if (t->p->split == PROF_SPLIT_UNICODE)
            e = split_unicode(t, s, len16);
        else
            e = split_whitespace(t, s, len16);
    }
    t->head += n;
    t->in_off += n;
    t->valid -= n;
    t->scan = 0;
    return e;
}

/* ---- safe cuts --------------------------------------------------------- */

/* The character that ends at in[q] (q > 0) and the one that starts there. */
static void
cut_chars(const ptok_t *t, size_t q, UChar32 *w, UChar32 *c)
{
    const uint8_t *s = (const uint8_t *) t->in.data + t->head;
    int32_t i = (int32_t) q, j = (int32_t) q;

    U8_PREV_UNSAFE(s, i, *w);
    U8_NEXT_UNSAFE(s, j, *c);
}

static bool
safe_whitespace(const ptok_t *t, UChar32 w, UChar32 c)
{
    if (!u16_space(w))
        return false;
    return t->norm == NULL || c < 0x80 || unorm2_hasBoundaryBefore(t->norm, c)
           || unorm2_hasBoundaryAfter(t->norm, w);
}

static bool
safe_unicode(const ptok_t *t, UChar32 w, UChar32 c)
{
    int wb;

    if (w == '\n')
        return true;
    if (w < 0x80 && c < 0x80)
        return w == ' ' && c != ' ';
    if (u_getIntPropertyValue(w, UCHAR_WORD_BREAK) != U_WB_WSEGSPACE)
        return false;
    wb = u_getIntPropertyValue(c, UCHAR_WORD_BREAK);
    if (wb == U_WB_WSEGSPACE || wb == U_WB_EXTEND || wb == U_WB_FORMAT
        || wb == U_WB_ZWJ)
        return false;
    return t->norm == NULL || c < 0x80 || unorm2_isInert(t->norm, c);
}

/* True if in[q] (0 < q < valid) is a safe cut. */
static bool
safe_at(const ptok_t *t, size_t q)
{
    const unsigned char *s = (const unsigned char *) t->in.data + t->head;
    UChar32 w, c;

    if ((s[q] & 0xc0) == 0x80)
        return false; /* inside a character */
    if (s[q - 1] < 0x80 && s[q] < 0x80 && t->p->split == PROF_SPLIT_WHITESPACE)
        return ascii_space[s[q - 1]];
    cut_chars(t, q, &w, &c);
    return t->p->split == PROF_SPLIT_UNICODE ? safe_unicode(t, w, c)
                                             : safe_whitespace(t, w, c);
}

/* The character boundary at or before q (q < valid), at least the end of
 * the first character. */
static size_t
floor_char(const ptok_t *t, size_t q)
{
    const unsigned char *s = (const unsigned char *) t->in.data + t->head;
    size_t first = 1;

    while (q > 0 && (s[q] & 0xc0) == 0x80)
        q--;
    while (first < t->valid && (s[first] & 0xc0) == 0x80)
        first++;
    return MEMDB_MAX(q, first);
}

/* Where to cut next, or 0 to wait for more text: the last safe cut in
 * (0, e] (e = min(piece, window)), else the first one in (e, window],
 * else, once the text goes past the window, the window. */
static size_t
cut_find(ptok_t *t)
{
    size_t e = MEMDB_MIN(t->piece, t->window), top;

    if (t->valid <= e)
        return 0;
    for (size_t q = e; q > t->scan; q--)
        if (safe_at(t, q))
            return q;
    t->scan = MEMDB_MAX(t->scan, e);
    top = MEMDB_MIN(t->valid - 1, t->window);
    for (size_t q = t->scan + 1; q <= top; q++) {
        if (safe_at(t, q))
            return q;
        t->scan = q;
    }
    if (t->valid > t->window)
        return floor_char(t, t->window);
    return 0;
}

/* Tokenizes what can be cut; with final, all the valid text.  Then drops
 * what was tokenized from t->in (once, not after each piece). */
static tok_err_e
drain(ptok_t *t, bool final)
{
    size_t q;
    tok_err_e e = TOK_OK;

    while (e == TOK_OK && (q = cut_find(t)) > 0)
        e = piece(t, q);
    if (e == TOK_OK && final && t->valid > 0)
        e = piece(t, t->valid);
    buf_consume(&t->in, t->head);
    t->head = 0;
    return e;
}

/* ---- feeding ----------------------------------------------------------- */

/* Validates t->in from t->valid on; at a bad byte, tokenizes the text
 * before it (a too-long term there comes first) and fails. */
static tok_err_e
validate(ptok_t *t)
{
    const unsigned char *s = (const unsigned char *) t->in.data;
    const unsigned char *end = s + t->in.len;
    const unsigned char *p = s + t->valid;

    while (p < end) {
        int n;

        if (*p < 0x80) {
            p++;
            continue;
        }
        n = utf8_seq(p, end);
        if (n == -1)
            break;
        if (n == 0) {
            uint64_t bad = t->in_off + (uint64_t) (p - s);

            t->valid = (size_t) (p - s);
            if (drain(t, true) != TOK_OK)
                return t->err;
            return ptok_fail(t, TOK_BAD_UTF8, bad);
        }
        p += n;
    }
    t->valid = (size_t) (p - s);
    return TOK_OK;
}

tok_err_e
ptok_feed(ptok_t *t, const char *data, size_t len)
{
    if (t->fast)
        return tok_feed(&t->tok, data, len);
    if (t->err != TOK_OK)
        return t->err;
    if (len == 0)
        return TOK_OK; /* data and t->in.data may be NULL */
    buf_append(&t->in, data, len);
    t->off += len;
    if (validate(t) != TOK_OK)
        return t->err;
    return drain(t, false);
}

tok_err_e
ptok_finish(ptok_t *t)
{
    if (t->fast)
        return tok_finish(&t->tok);
    if (t->err != TOK_OK)
        return t->err;
    if (drain(t, true) != TOK_OK)
        return t->err;
    if (t->in.len > 0) /* a character cut off at the end */
        return ptok_fail(t, TOK_BAD_UTF8, t->in_off);
    return TOK_OK;
}
