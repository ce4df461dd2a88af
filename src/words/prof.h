/*
 * prof.h - tokenizer profiles, and the streaming tokenizer that applies
 * one (ptok_t).
 *
 * A table's profile is fixed when the table is created.  It says how a
 * body becomes terms, always in this order:
 *
 *   1. normalize the whole text: none, NFC or NFKC (ICU unorm2);
 *   2. split it into words:
 *        whitespace  a maximal run of characters that are not White_Space
 *                    (exactly tok.h's rule),
 *        unicode     the segments between Unicode word boundaries (UAX #29,
 *                    with dictionary segmentation of Chinese, Japanese,
 *                    Thai, Lao, Khmer, Burmese: ICU's word break iterator,
 *                    root locale) whose rule status is number, letter,
 *                    kana or ideographic; spaces and punctuation segments
 *                    are dropped;
 *   3. fold each word's case (full Unicode case folding, u_strFoldCase
 *      with U_FOLD_CASE_DEFAULT: "Straße" -> "strasse") if fold;
 *   4. trim: strip leading and trailing punctuation (General_Category P*)
 *      if trim; a word left empty is dropped;
 *      then drop words shorter than min_length or longer than max_length
 *      code points (counted after trim; 0 = no limit);
 *      then drop stopwords: exact bytes, compared with the word as it is
 *      now (normalized, folded, trimmed).  Stopwords are stored as given,
 *      and prof_from_json refuses one that the profile could never
 *      produce (not normalized, or not case folded when fold is on, or
 *      ending in punctuation with trim), naming the form to give;
 *   5. n-grams: with ngrams = N >= 2, each kept word is followed by the
 *      n-grams (n = 2..N) that end with it: the last n kept words joined
 *      by one U+0020.  N-grams join consecutive KEPT words: a dropped word
 *      (stopword, too short, punctuation) does not break a run, and runs
 *      cross chunk boundaries and lines (the whole body is one run).
 *
 * Terms are emitted in text order: word, its 2-gram, its 3-gram, next word.
 * A term longer than max_word bytes stops the tokenizer with
 * TOK_WORD_TOO_LONG.
 *
 * The default profile (prof_default: whitespace, keep case, no
 * normalization, no trim, no limits, no stopwords, ngrams 1) is tok.h's
 * tokenizer itself: ptok_feed calls tok_feed with the caller's callback,
 * so a default table costs what it cost before profiles.
 *
 * Errors, as tok_t's (err and err_off):
 *   - TOK_BAD_UTF8: the first malformed byte, at its exact offset in the
 *     body (a character cut off at the end: its first byte);
 *   - TOK_WORD_TOO_LONG: err_off is the first byte of the term's first
 *     word when the profile does not normalize (for a trimmed word, of the
 *     word before trim); with normalization, the start of the piece of
 *     text it was tokenized in (at or before it: ICU's C API maps no
 *     offsets from normalized text back; pieces are cut at places that
 *     depend on the text and t->piece only, so this too is the same for
 *     every chunking);
 *   - the first error in byte order wins: text before a bad byte is
 *     tokenized first, so a too-long term before it is reported instead.
 * After an error the terms already emitted are to be thrown away.
 *
 * Streaming: chunks may cut the body anywhere, and any chunking gives the
 * same terms (and the same error) as the whole body at once.  A profile
 * other than the default buffers the text since the last *safe cut*, a
 * place where the text before it and after it can be tokenized apart with
 * the same result as together.  Between the character W before it and C
 * after it:
 *   whitespace split: W is White_Space, and without normalization that is
 *     all; with it, W has a normalization boundary after it or C one
 *     before it (unorm2_hasBoundaryAfter/Before: ICU guarantees the two
 *     sides normalize apart, and W normalizes to White_Space);
 *   unicode split: W is U+000A (UAX #29 WB3a breaks after a line feed
 *     whatever follows, the rules that look back treat it like the start
 *     of the text, and it is normalization-inert); or W is a WSegSpace
 *     (U+0020, U+3000, ...) and C is not WSegSpace, Extend, Format or ZWJ
 *     (then only WB999 applies: a break; a space is no class any rule
 *     looks back for), and, with normalization, C is ASCII (which never
 *     combines with what precedes it) or normalization-inert
 *     (unorm2_isInert), so that C begins the normalized text after the
 *     cut and a space still ends it before.
 * A text with no safe cut for PTOK_WINDOW bytes (1 MiB; t->window, which
 * may be lowered after ptok_init) is cut there anyway (at the character
 * boundary at or before that many bytes after the previous cut, whatever
 * the chunking), which may split a word or change a normalization there.
 * Memory: the buffered text (up to the window plus one chunk) and its
 * UTF-16 copies; no allocation per word once the buffers have grown.
 */
#ifndef MEMDB_SRC_WORDS_PROF_H
#define MEMDB_SRC_WORDS_PROF_H

#include "src/core/memdb.h"
#include "src/core/buf.h"
#include "src/words/tok.h"

#include <cJSON.h>

enum { PROF_SPLIT_WHITESPACE = 0, PROF_SPLIT_UNICODE = 1 };
enum { PROF_NORM_NONE = 0, PROF_NORM_NFC = 1, PROF_NORM_NFKC = 2 };
enum { PROF_TRIM_NONE = 0, PROF_TRIM_PUNCT = 1 };

#define PROF_MAX_ENC      16384 /* bytes of prof_encode's form, at most */
#define PROF_MAX_NGRAMS   3
#define PROF_MAX_LENGTH   65535 /* min_length, max_length: at most */
#define PROF_MAX_STOPWORD 255   /* bytes of one stopword, at most */
#define PROF_ENC_VERSION  1
#define PTOK_WINDOW       (1u << 20)

typedef struct prof_s {
    uint8_t split;                   /* PROF_SPLIT_* */
    uint8_t fold;                    /* 0 keep, 1 fold */
    uint8_t normalize;               /* PROF_NORM_* */
    uint8_t trim;                    /* PROF_TRIM_* */
    uint8_t ngrams;                  /* 1..3 */
    uint32_t min_length, max_length; /* code points; 0 = no limit */
    /* The stopwords: a private, immutable set, sorted (bytewise, shorter
     * first on a common prefix) and without duplicates.  Stopword i is
     * stop + stop_off[i], stop_off[i + 1] - stop_off[i] bytes. */
    uint32_t nstop;
    char *stop;
    uint32_t *stop_off; /* nstop + 1 entries, NULL when nstop == 0 */
} prof_t;

/* Today's rules: whitespace, keep, none, no trim, no limits, no
 * stopwords, ngrams 1. */
void prof_default(prof_t *p);
bool prof_is_default(const prof_t *p);
/* From the "tokenizer" object of a create request (NULL: every field its
 * default).  Fields, all optional:
 *   "split": "whitespace" | "unicode"
 *   "case": "keep" | "fold"
 *   "normalize": "none" | "nfc" | "nfkc"
 *   "trim": "none" | "punctuation"
 *   "ngrams": 1..3
 *   "min_length", "max_length": 0..65535 code points (0 = no limit;
 *       min <= max when both are set)
 *   "stopwords": [ "word", ... ] (duplicates are merged)
 * An unknown or repeated field, a wrong type or a bad value: MEMDB_ERR,
 * with err a message naming the field ("tokenizer.split must be ...").
 * p is set (and must be prof_free'd) only on MEMDB_OK. */
int prof_from_json(prof_t *p, const cJSON *obj, char *err, size_t errlen);
/* Appends the JSON object with every field, stopwords as an array. */
void prof_to_json(const prof_t *p, buf_t *b);
/* Appends the binary form (little-endian, versioned; see prof.c). */
int prof_encode(const prof_t *p, buf_t *out);
/* MEMDB_ERR on anything malformed, truncated, of another version or not
 * canonical (prof_encode's form of some profile); never reads past len.
 * p is set only on MEMDB_OK. */
int prof_decode(prof_t *p, const void *data, size_t len);
void prof_free(prof_t *p);
/* True if w[0..len) is one of p's stopwords. */
bool prof_is_stopword(const prof_t *p, const char *w, size_t len);

/* One word or n-gram remembered for the n-grams after it. */
typedef struct ptok_hist_s {
    buf_t w;
    uint64_t off;
} ptok_hist_t;

typedef struct ptok_s {
    const prof_t *p; /* the caller's, alive as long as t is used */
    bool fast;       /* the default profile: tok is all */
    tok_t tok;
    tok_word_fn fn;
    void *arg;
    size_t max_word;
    size_t window;    /* PTOK_WINDOW: bytes without a safe cut */
    size_t piece;     /* bytes tokenized at once, about (tests lower it) */
    const void *norm; /* UNormalizer2, or NULL */
    void *brk;        /* UBreakIterator, kept across ptok_init */
    buf_t in;         /* text since the last cut (UTF-8), from head */
    size_t head;      /* in[0..head) is tokenized already */
    size_t valid;     /* in[head..head+valid): valid, whole characters */
    size_t scan;      /* no safe cut at head + (0..scan] */
    uint64_t in_off;  /* body offset of in[head] */
    uint64_t off;     /* body bytes fed */
    buf_t u16, nrm, fld, out, gram;        /* work buffers, reused */
    ptok_hist_t hist[PROF_MAX_NGRAMS - 1]; /* last kept words, newest last */
    unsigned nhist;
    /* the piece being tokenized: UTF-8 text and a cursor mapping UTF-16
     * offsets back to it (no normalization) */
    const char *pc;
    size_t pc_len, map16, map8;
    uint64_t pc_off;
    bool pc_nrm; /* the piece was changed by normalization */
    tok_err_e err;
    uint64_t err_off;
} ptok_t;

/* t must be zeroed before its first ptok_init(); later calls reuse its
 * buffers and its break iterator.  p must outlive t's use.  MEMDB_ERR
 * (logged) if ICU cannot open a break iterator. */
int ptok_init(ptok_t *t, const prof_t *p, size_t max_word, tok_word_fn fn,
              void *arg);
tok_err_e ptok_feed(ptok_t *t, const char *data, size_t len);
tok_err_e ptok_finish(ptok_t *t);
/* The error (TOK_OK if none) and its byte offset in the body. */
tok_err_e ptok_err(const ptok_t *t, uint64_t *err_off);
void ptok_free(ptok_t *t);

#endif
