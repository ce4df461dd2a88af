"""Makes the corpus files of this folder from the message catalogs that
Debian packages install (see README): the translated strings (msgstr) of
one .mo file, one per line, in the catalog's order, cut at a line to at
most LIMIT bytes.  Run from this folder: python3 extract.py"""
import gettext

LIMIT = 40000
FILES = [
    ("ja-coreutils.txt", "/usr/share/locale/ja/LC_MESSAGES/coreutils.mo"),
    ("zh_CN-coreutils.txt", "/usr/share/locale/zh_CN/LC_MESSAGES/coreutils.mo"),
    ("zh_TW-dpkg.txt", "/usr/share/locale/zh_TW/LC_MESSAGES/dpkg.mo"),
    ("th-dpkg.txt", "/usr/share/locale/th/LC_MESSAGES/dpkg.mo"),
    ("ko-bash.txt", "/usr/share/locale/ko/LC_MESSAGES/bash.mo"),
    ("ru-dpkg.txt", "/usr/share/locale/ru/LC_MESSAGES/dpkg.mo"),
    ("ar-apt.txt", "/usr/share/locale/ar/LC_MESSAGES/apt.mo"),
    ("hi-glib20.txt", "/usr/share/locale/hi/LC_MESSAGES/glib20.mo"),
    ("el-apt.txt", "/usr/share/locale/el/LC_MESSAGES/apt.mo"),
    ("de-coreutils.txt", "/usr/share/locale/de/LC_MESSAGES/coreutils.mo"),
]


def strings(path):
    with open(path, "rb") as f:
        cat = gettext.GNUTranslations(f)._catalog
    for key, value in cat.items():
        msgid = key[0] if isinstance(key, tuple) else key
        if msgid == "" or not value.strip():
            continue  # the header
        yield value


def main():
    for name, path in FILES:
        out, size = [], 0
        for s in strings(path):
            line = s.rstrip("\n") + "\n"
            n = len(line.encode("utf-8"))
            if size + n > LIMIT:
                break
            out.append(line)
            size += n
        with open(name, "w", encoding="utf-8") as f:
            f.write("".join(out))


if __name__ == "__main__":
    main()
