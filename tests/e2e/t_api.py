"""The word-count API on one node: upload, wordcount, allwords, top,
status, healthz."""
import json
import random

from lib import Node, raw, parse_responses


def test_upload_counts_every_occurrence():
    n = Node().start()
    r = n.upload("the cat and the hat and the bat")
    assert r["words"] == 8 and r["distinct"] == 5, r
    assert r["lsn"] == 1, r
    assert n.count("the", "and", "cat", "dog") == \
        {"the": 3, "and": 2, "cat": 1, "dog": 0}
    r2 = n.upload("the end")
    assert r2["lsn"] == 2
    assert n.count("the")["the"] == 4


def test_words_are_case_sensitive_and_bytes_kept():
    n = Node().start()
    n.upload("Word word WORD wörd word")
    assert n.count("Word", "word", "WORD", "wörd", "WÖRD") == \
        {"Word": 1, "word": 2, "WORD": 1, "wörd": 1, "WÖRD": 0}


def test_unicode_whitespace_separates_words():
    n = Node().start()
    seps = ["\t", "\n", "\v", "\f", "\r", " ", "\u0085", "\u00a0", "\u1680",
            "\u2000", "\u2005", "\u200a", "\u2028", "\u2029", "\u202f",
            "\u205f", "\u3000"]
    text = "x" + "x".join(seps) + "x"
    r = n.upload(text)
    assert r["words"] == len(seps) + 1 and r["distinct"] == 1, r
    assert n.count("x")["x"] == len(seps) + 1
    # zero-width space and BOM are not White_Space: they stay in the word
    n.upload("a\u200bb c\ufeffd")
    assert n.count("a\u200bb", "c\ufeffd", "a") == \
        {"a\u200bb": 1, "c\ufeffd": 1, "a": 0}


def test_chunked_upload():
    n = Node().start()
    body = (b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"6\r\nalpha \r\n4\r\nbeta\r\n5\r\n alph\r\n1\r\na\r\n0\r\n\r\n")
    (st, _, b), = parse_responses(raw(n.port, body))
    assert st == 200, b
    assert json.loads(b)["words"] == 3
    assert n.count("alpha", "beta") == {"alpha": 2, "beta": 1}


def test_empty_upload_changes_nothing():
    n = Node().start()
    r = n.upload("")
    assert r["words"] == 0 and r["distinct"] == 0
    r = n.upload(" \n\t \u3000 ")
    assert r["words"] == 0
    assert n.allwords() == {}


def test_wordcount_url_decoding():
    n = Node().start()
    n.upload("a+b c%d é 100%")
    st, _, body = n.request("GET", "/api/v1/wordcount?word=a%2Bb&word=c%25d"
                            "&word=%C3%A9&word=100%25")
    assert st == 200
    assert json.loads(body) == {"a+b": 1, "c%d": 1, "é": 1, "100%": 1}
    # '+' and %20 decode to a space: such a word can never be counted
    st, _, body = n.request("GET", "/api/v1/wordcount?word=a+b&word=a%20b")
    assert json.loads(body) == {"a b": 0}
    # the same word twice is answered once
    assert n.get("/api/v1/wordcount?word=a%2Bb&word=a%2Bb") == {"a+b": 1}


def test_wordcount_bad_requests():
    n = Node().start()
    for q in ["", "?", "?word=", "?w=x", "?word=%zz", "?word=%C3",
              "?word=x&bogus=1"]:
        st, _, body = n.request("GET", "/api/v1/wordcount" + q)
        assert st == 400, (q, st, body)
        assert "error" in json.loads(body)


def test_json_escaping_of_stored_words():
    n = Node().start()
    words = ['"quoted"', "back\\slash", "ctl\x01\x1f", "tab\u0085x",
             "emoji\U0001f600", "</script>", "\x7f"]
    n.upload(" ".join(words))
    aw = n.allwords()
    expect = {'"quoted"': 1, "back\\slash": 1, "ctl\x01\x1f": 1, "tab": 1,
              "x": 1, "emoji\U0001f600": 1, "</script>": 1, "\x7f": 1}
    assert aw == expect, aw
    top = n.get("/api/v1/top?n=100")
    assert {t["word"] for t in top} == set(expect)


def test_allwords_prefix_and_limit():
    n = Node().start()
    n.upload("apple apricot banana avocado apple cherry")
    assert n.allwords() == {"apple": 2, "apricot": 1, "banana": 1,
                            "avocado": 1, "cherry": 1}
    assert n.allwords("?prefix=ap") == {"apple": 2, "apricot": 1}
    assert n.allwords("?prefix=zzz") == {}
    assert len(n.allwords("?limit=2")) == 2
    assert n.allwords("?limit=0") == {}
    assert len(n.allwords("?prefix=a&limit=1")) == 1
    st, _, _ = n.request("GET", "/api/v1/allwords?limit=-1")
    assert st == 400
    st, _, _ = n.request("GET", "/api/v1/allwords?prefix=%ff")
    assert st == 400


def test_allwords_streams_a_large_table():
    n = Node(workers=1).start()
    total = 300000
    batch = 30000
    for b in range(0, total, batch):
        n.upload(" ".join(f"w{i}" for i in range(b, b + batch)))
    n.upload(" ".join(f"w{i}" for i in range(0, total, 3)))
    st, hdrs, body = n.request("GET", "/api/v1/allwords")
    assert st == 200
    assert hdrs.get("Transfer-Encoding") == "chunked"
    aw = json.loads(body)
    assert len(aw) == total
    assert all(aw[f"w{i}"] == (2 if i % 3 == 0 else 1)
               for i in range(0, total, 997))
    assert sum(aw.values()) == total + (total + 2) // 3


def test_allwords_http10_is_close_delimited():
    n = Node().start()
    n.upload("one two")
    out = raw(n.port, b"GET /api/v1/allwords HTTP/1.0\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"200 OK" in head and b"chunked" not in head
    assert json.loads(body) == {"one": 1, "two": 1}


def test_top_orders_by_count_then_word():
    n = Node().start()
    n.upload("c c c b b a a d")
    assert n.get("/api/v1/top?n=3") == [
        {"word": "c", "count": 3}, {"word": "a", "count": 2},
        {"word": "b", "count": 2}]
    assert len(n.get("/api/v1/top")) == 4
    for q in ["?n=0", "?n=x", "?n=10001", "?k=1"]:
        st, _, _ = n.request("GET", "/api/v1/top" + q)
        assert st == 400, q


def test_top_matches_a_recount():
    n = Node().start()
    rng = random.Random(5)
    words = [f"z{int(rng.paretovariate(1.2))}" for _ in range(20000)]
    n.upload(" ".join(words))
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    expect = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:25]
    got = n.get("/api/v1/top?n=25")
    assert [(t["word"], t["count"]) for t in got] == expect
    # counts that go down (a reset, a retract) leave the partitions'
    # bounds high: the top still matches a recount
    top = expect[0][0]
    st, _, _ = n.request("DELETE", f"/api/v1/tables/default/words/{top}")
    assert st == 200
    del counts[top]
    second = expect[1][0]
    take = counts[second] - 1
    st, _, _ = n.request("POST", "/api/v1/tables/default/retract",
                         " ".join([second] * take).encode())
    assert st == 200
    counts[second] = 1
    for k in (1, 10, 40):
        expect = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        got = n.get(f"/api/v1/top?n={k}")
        assert [(t["word"], t["count"]) for t in got] == expect, k


def test_a_deep_top_matches_a_recount():
    # 10000 of 40000 words: about 2.4 per partition rank, so many a
    # partition needs more than its leaders (HT_TOP) and is copied too.
    n = Node().start()
    counts = {f"d{i}": 1 + (i * 7919) % 13 for i in range(40000)}
    n.upload(" ".join(" ".join([w] * c) for w, c in counts.items()))
    retract = [f"d{i}" for i in range(0, 40000, 7) if counts[f"d{i}"] > 1]
    st, _, _ = n.request("POST", "/api/v1/tables/default/retract",
                         " ".join(retract).encode())
    assert st == 200
    for w in retract:
        counts[w] -= 1
    for k in (1, 100, 10000):
        expect = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        got = n.get(f"/api/v1/top?n={k}")
        assert [(t["word"], t["count"]) for t in got] == expect, k


def _answered_first(n, slow, fast, slow_end):
    """Sends request slow on one connection, then fast on another; the
    order their whole answers arrive in, and slow's answer."""
    import selectors
    import socket
    import time
    a = socket.create_connection((n.host, n.port), timeout=30)
    b = socket.create_connection((n.host, n.port), timeout=30)
    order, got = [], {"slow": b"", "fast": b""}
    try:
        a.sendall(slow)
        time.sleep(0.002)  # (the scan takes far longer)
        b.sendall(fast)
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, "slow")
        sel.register(b, selectors.EVENT_READ, "fast")
        deadline = time.monotonic() + 30
        while len(order) < 2 and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                got[key.data] += key.fileobj.recv(65536)
                done = slow_end if key.data == "slow" else b"}\n"
                if got[key.data].endswith(done) and key.data not in order:
                    order.append(key.data)
    finally:
        a.close()
        b.close()
    return order, got["slow"]


def test_scans_of_a_large_table_let_other_requests_through():
    # One worker, 1.5M distinct words: /top and the tables' sizes scan
    # them a few partitions per turn of the event loop, so a request sent
    # on another connection while the scan runs is answered before the
    # scan ends (a scan in one turn would answer it only after).  Order
    # of the answers, not time.  Every word is counted once, so /top
    # cannot skip a partition (their bounds all equal the heap's least).
    n = Node(workers=1, store={"max_memory": "1GiB"}).start()
    for start in range(0, 1500000, 500000):
        n.upload(" ".join(f"w{i:07d}" for i in range(start, start + 500000)))
    fast = b"GET /api/v1/wordcount?word=w0000001 HTTP/1.1\r\nHost: x\r\n\r\n"
    order, top = _answered_first(
        n, b"GET /api/v1/top?n=2 HTTP/1.1\r\nHost: x\r\n\r\n", fast, b"]\n")
    assert order == ["fast", "slow"], order
    assert top.endswith(b'[{"word":"w0000000","count":1},'
                        b'{"word":"w0000001","count":1}]\n'), top[-200:]
    order, desc = _answered_first(
        n, b"GET /api/v1/tables/default HTTP/1.1\r\nHost: x\r\n\r\n",
        fast, b"}}\n")
    assert order == ["fast", "slow"], order
    assert b'"words":1500000,"distinct":1500000' in desc, desc[-300:]
    # a skewed table: the top is read from the few partitions whose
    # bound can rank, and it is the same as a full recount
    n.upload("w0000001 w0000001 w0000002 w1499999 w1499999 w1499999")
    assert n.get("/api/v1/top?n=3") == [
        {"word": "w1499999", "count": 4}, {"word": "w0000001", "count": 3},
        {"word": "w0000002", "count": 2}]


def test_status_and_healthz():
    n = Node(workers=3).start()
    # /healthz answers once one worker serves; the others may still start
    n.wait_for(lambda: n.get("/api/v1/status")["workers"]["alive"] == 3,
               what="three workers")
    n.upload("a b c a")
    st = n.get("/api/v1/status")
    assert st["node"] == "n1"
    assert st["words"] == 4 and st["distinct"] == 3, st
    assert st["workers"] == {"configured": 3, "alive": 3}
    assert 0 < st["memory"]["used"] <= st["memory"]["limit"]
    assert st["memory"]["limit"] == 256 << 20
    assert st["lsn"] == 1 and st["uploads"] == 1
    assert n.get("/healthz") == {"status": "ok"}


def test_activity_log_has_one_line_per_request():
    n = Node().start()
    n.upload("x y")
    n.count("x")
    n.request("GET", "/nope")
    n.wait_for(lambda: open(n.cfg["log"]["activity"]).read().count("\n") >= 4,
               what="activity log lines")
    lines = open(n.cfg["log"]["activity"]).read().splitlines()
    post = [l for l in lines if " POST /api/v1/upload " in l]
    assert len(post) == 1, lines
    f = post[0].split()
    # time node client method path status bytes duration
    assert f[1] == "n1" and f[2].startswith("127.0.0.1:")
    assert f[5] == "200" and f[6].isdigit() and f[7].endswith("us")
    assert any(" GET /nope 404 " in l for l in lines)
    assert any(" GET /api/v1/wordcount 200 " in l for l in lines)
