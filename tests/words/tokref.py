"""tokref - the tokenizer profiles of src/words/prof.h, written again on
PyICU (Debian: python3-icu), independently of the C code, as the ground
truth of tests/words/t_tokref.sh.

    import tokref
    prof = tokref.Profile({"split": "unicode", "case": "fold"})
    terms = tokref.tokenize(text, prof)      # list of str, in order
    counts = tokref.count(text, prof)        # {term: count}

It works on the whole text at once (no streaming, no safe cuts), so the
C code's chunking and cutting are checked against the text as one
string.  It does not implement the forced cut of texts without a safe cut
for 1 MiB (the corpora have none), nor max_word.

    python3 tokref.py PROFILE_JSON FILE      prints "term<TAB>count" lines
    python3 tokref.py --check TOKDUMP CORPUS  the checks of t_tokref.sh
"""
import json
import sys

import icu

UBRK_WORD_NONE_LIMIT = 100

FIELDS = {
    "split": ("whitespace", "unicode"),
    "case": ("keep", "fold"),
    "normalize": ("none", "nfc", "nfkc"),
    "trim": ("none", "punctuation"),
}


class Profile:
    """A profile from its JSON object (the fields of prof.h)."""

    def __init__(self, obj=None):
        obj = dict(obj or {})
        self.split = obj.pop("split", "whitespace")
        self.case = obj.pop("case", "keep")
        self.normalize = obj.pop("normalize", "none")
        self.trim = obj.pop("trim", "none")
        self.ngrams = obj.pop("ngrams", 1)
        self.min_length = obj.pop("min_length", 0)
        self.max_length = obj.pop("max_length", 0)
        self.stopwords = set(obj.pop("stopwords", []))
        if obj:
            raise ValueError("unknown fields: %s" % sorted(obj))
        for name, values in FIELDS.items():
            if getattr(self, name) not in values:
                raise ValueError("bad %s" % name)
        if self.ngrams not in (1, 2, 3):
            raise ValueError("bad ngrams")
        self.fold = self.case == "fold"


def _normalize(text, prof):
    if prof.normalize == "nfc":
        return icu.Normalizer2.getNFCInstance().normalize(text)
    if prof.normalize == "nfkc":
        return icu.Normalizer2.getNFKCInstance().normalize(text)
    return text


def _split_whitespace(text):
    word = []
    for ch in text:
        if icu.Char.isUWhiteSpace(ord(ch)):
            if word:
                yield "".join(word)
            word = []
        else:
            word.append(ch)
    if word:
        yield "".join(word)


def _split_unicode(text):
    bi = icu.BreakIterator.createWordInstance(icu.Locale.getRoot())
    us = icu.UnicodeString(text)
    bi.setText(us)
    start = bi.first()
    for end in bi:
        if bi.getRuleStatus() >= UBRK_WORD_NONE_LIMIT:
            yield str(us[start:end])
        start = end


def _trim(word):
    a, b = 0, len(word)
    while a < b and icu.Char.ispunct(ord(word[a])):
        a += 1
    while b > a and icu.Char.ispunct(ord(word[b - 1])):
        b -= 1
    return word[a:b]


def _kept(word, prof):
    """The word after steps 3 and 4, or None when it is dropped."""
    if prof.fold:
        word = str(icu.UnicodeString(word).foldCase())
    if prof.trim == "punctuation":
        word = _trim(word)
    if not word:
        return None
    if prof.min_length and len(word) < prof.min_length:
        return None
    if prof.max_length and len(word) > prof.max_length:
        return None
    if word in prof.stopwords:
        return None
    return word


def tokenize(text, prof):
    """The terms of text under prof, in order: each kept word, then the
    n-grams (2..ngrams) of the kept words that end with it."""
    text = _normalize(text, prof)
    if prof.split == "unicode":
        words = _split_unicode(text)
    else:
        words = _split_whitespace(text)
    terms, last = [], []
    for w in words:
        w = _kept(w, prof)
        if w is None:
            continue
        terms.append(w)
        for n in range(2, prof.ngrams + 1):
            if len(last) >= n - 1:
                terms.append(" ".join(last[len(last) - (n - 1):] + [w]))
        last = (last + [w])[-(prof.ngrams - 1):] if prof.ngrams > 1 else []
    return terms


def count(text, prof):
    out = {}
    for t in tokenize(text, prof):
        out[t] = out.get(t, 0) + 1
    return out


# The profiles t_tokref.sh checks, each on every corpus file.
STOP = ["the", "a", "of", "to", "die", "der", "und", "и", "в", "не",
        "的", "是", "了", "ใน", "และ", "및", "को", "का", "في", "και"]
CHECKS = [
    {},
    {"split": "unicode"},
    {"split": "unicode", "case": "fold", "normalize": "nfkc"},
    {"split": "unicode", "ngrams": 2},
    {"split": "unicode", "ngrams": 3, "case": "fold"},
    {"split": "whitespace", "trim": "punctuation", "case": "fold"},
    {"split": "whitespace", "normalize": "nfc", "ngrams": 2},
    {"split": "unicode", "min_length": 2, "max_length": 6},
    {"split": "whitespace", "trim": "punctuation", "min_length": 3},
    {"split": "unicode", "case": "fold", "stopwords": STOP},
    {"split": "unicode", "normalize": "nfc", "trim": "punctuation",
     "stopwords": STOP, "ngrams": 3, "min_length": 2},
]


def _tokdump(tokdump, prof_json, path, args):
    import subprocess
    r = subprocess.run([tokdump] + args + [prof_json, path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("tokdump %s: exit %d: %s" % (
            " ".join(args), r.returncode, r.stderr.decode(errors="replace")))
    out = {}
    for line in r.stdout.decode("utf-8").split("\n"):
        if line:
            term, n = line.rsplit("\t", 1)
            out[term] = out.get(term, 0) + int(n)
    return out


def _diff(want, got):
    """A few words on how got differs from want."""
    bad = sorted(set(want) | set(got),
                 key=lambda t: (want.get(t, 0) == got.get(t, 0), t))
    return ", ".join("%r: want %d, got %d" % (t, want.get(t, 0), got.get(t, 0))
                     for t in bad[:5])


def check(tokdump, corpus):
    """Prints TAP: for each profile of CHECKS and each corpus file,
    tokdump's counts fed whole and fed in random chunks with small pieces
    (cuts all over the text) must be exactly tokref's."""
    import os
    files = sorted(f for f in os.listdir(corpus) if f.endswith(".txt"))
    print("1..%d" % (len(CHECKS) * len(files)))
    i, failed = 0, 0
    for k, obj in enumerate(CHECKS):
        prof, pj = Profile(obj), json.dumps(obj, ensure_ascii=False)
        shown = dict(obj)
        if "stopwords" in shown:
            shown["stopwords"] = "%d words" % len(shown["stopwords"])
        for f in files:
            i += 1
            path = os.path.join(corpus, f)
            with open(path, "rb") as fh:
                want = count(fh.read().decode("utf-8"), prof)
            seed = 1 + i * 7919
            piece = 1 + (i * 37) % 300
            runs = [[], ["-s", str(seed), "-p", str(piece)]]
            what = "profile %d %s on %s (%d terms, %d distinct)" % (
                k, json.dumps(shown), f, sum(want.values()), len(want))
            try:
                bad = [(r, _diff(want, got)) for r in runs
                       for got in [_tokdump(tokdump, pj, path, r)]
                       if got != want]
            except RuntimeError as e:
                bad = [([], str(e))]
            if bad:
                failed += 1
                print("not ok %d - %s" % (i, what))
                for r, d in bad:
                    print("# tokdump %s: %s" % (" ".join(r), d))
            else:
                print("ok %d - %s" % (i, what))
    return 1 if failed else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--check":
        sys.exit(check(argv[2], argv[3]))
    prof = Profile(json.loads(argv[1]))
    with open(argv[2], "rb") as f:
        text = f.read().decode("utf-8")
    if argv[3:] == ["--lines"]:  # each line counted alone (an upload each)
        total = {}
        for line in text.splitlines(keepends=True):
            for term, n in count(line, prof).items():
                total[term] = total.get(term, 0) + n
    else:
        total = count(text, prof)
    for term, n in total.items():
        sys.stdout.write("%s\t%d\n" % (term, n))


if __name__ == "__main__":
    main(sys.argv)
