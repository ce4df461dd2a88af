"""Tables: create, list, describe, truncate and drop (each one change
record), every data endpoint under /api/v1/tables/{t}/, tokenizer
profiles checked against PyICU on real multilingual text, the table
default unchanged, and tables through restarts (snapshot and log),
replicas, a full sync, a worker killed in a table operation, a
partition of the leader, and Idempotency-Keys across tables."""
import json
import os
from urllib.parse import quote

import lib
from lib import Cluster, Node, Skip, need_faults, tempdir

HDR = "Idempotency-Key"
T = "/api/v1/tables"


def create(n, name, tokenizer=None, expect=201):
    body = {"name": name}
    if tokenizer is not None:
        body["tokenizer"] = tokenizer
    st, _, data = n.request("POST", T, json.dumps(body).encode())
    assert st == expect, (st, data)
    return json.loads(data)


def up(n, table, text, key=None, expect=200):
    body = text.encode() if isinstance(text, str) else text
    st, h, data = n.request("POST", f"{T}/{table}/upload", body,
                            {HDR: key} if key else {})
    assert st == expect, (st, data)
    return json.loads(data) if data else None


def words(n, table, query=""):
    return n.get(f"{T}/{table}/allwords{query}")


def describe(n, table):
    return n.get(f"{T}/{table}")


def ctl(*args):
    import subprocess
    return subprocess.run([lib.MEMDBCTL, *args], capture_output=True,
                          text=True, timeout=60)


def test_create_list_describe_and_drop():
    n = Node(store={"max_tables": 2}).start()
    t = create(n, "t1", {"split": "unicode", "case": "fold",
                         "stopwords": ["a"]})
    assert t["name"] == "t1" and t["words"] == 0 and t["lsn"] == 1, t
    assert t["tokenizer"]["split"] == "unicode"
    assert t["tokenizer"]["case"] == "fold"
    assert t["tokenizer"]["stopwords"] == ["a"]
    assert t["tokenizer"]["ngrams"] == 1, t
    err = create(n, "t1", expect=409)
    assert "exists" in err["error"], err
    for bad in ("", "T1", "a/b", "x" * 65, "caf\u00e9"):
        err = create(n, bad, expect=400)
        assert "name" in err["error"], (bad, err)
    err = create(n, "t2", {"split": "words"}, expect=400)
    assert "tokenizer.split" in err["error"], err
    err = create(n, "t2", {"ngrams": 4}, expect=400)
    assert "tokenizer.ngrams" in err["error"], err
    st, _, data = n.request("POST", T, b'{"name":"t2","x":1}')
    assert st == 400 and b'unknown field' in data, (st, data)
    st, _, data = n.request("POST", T, b'not json')
    assert st == 400, (st, data)
    create(n, "t2")
    err = create(n, "t3", expect=507)
    assert err["limit"] == 2, err
    names = [x["name"] for x in n.get(T)]
    assert names == ["default", "t1", "t2"], names
    up(n, "t1", "A a B b b")
    d = describe(n, "t1")
    assert d["words"] == 3 and d["distinct"] == 1, d  # "a" is a stopword
    assert n.get(f"{T}/t1/wordcount?word=b&word=a") == {"b": 3, "a": 0}
    assert n.get(f"{T}/t1/top?n=1") == [{"word": "b", "count": 3}]
    st, _, data = n.request("GET", f"{T}/nope")
    assert st == 404 and b"no such table" in data, (st, data)
    st, _, _ = n.request("GET", f"{T}/nope/allwords")
    assert st == 404
    st, _, _ = n.request("POST", f"{T}/nope/upload", b"x")
    assert st == 404
    st, _, data = n.request("DELETE", f"{T}/default")
    assert st == 400, (st, data)
    d = n.json("DELETE", f"{T}/t1")
    assert d == {"name": "t1", "dropped": True, "lsn": 4}, d
    st, _, _ = n.request("GET", f"{T}/t1")
    assert st == 404
    t1 = create(n, "t1")  # the dropped table's entry is free again
    assert words(n, "t1") == {}, "a new t1 does not see the old one's words"
    st, h, _ = n.request("PUT", T)
    assert st == 405 and h.get("Allow") == "GET, POST, HEAD", (st, h)
    assert t1["tokenizer"]["split"] == "whitespace"


def test_tables_count_apart_and_default_is_unchanged():
    n = Node().start()
    create(n, "folded", {"split": "unicode", "case": "fold",
                         "normalize": "nfkc", "trim": "punctuation"})
    text = "The cat sat. the cat! THE Cat, \u6771\u4eac\u306f\u5927\u304d" \
           "\u3044\u90fd\u5e02\u3067\u3059\u3002\n"
    n.upload(text)
    up(n, "default", text)
    up(n, "folded", text)
    want_default = {"The": 2, "cat": 2, "sat.": 2, "the": 2, "cat!": 2,
                    "THE": 2, "Cat,": 2,
                    "\u6771\u4eac\u306f\u5927\u304d\u3044\u90fd\u5e02"
                    "\u3067\u3059\u3002": 2}
    assert n.allwords() == want_default
    assert words(n, "default") == want_default
    f = words(n, "folded")
    assert f["the"] == 3 and f["cat"] == 3 and f["sat"] == 1, f
    assert f["\u6771\u4eac"] == 1 and f["\u90fd\u5e02"] == 1, f
    assert sum(f.values()) == 12, f
    # ?prefix and ?limit of allwords work inside the table
    assert words(n, "folded", "?prefix=c") == {"cat": 3}
    assert len(words(n, "folded", "?limit=2")) == 2
    # n-grams and length limits
    create(n, "grams", {"ngrams": 2, "min_length": 2})
    up(n, "grams", "to be or not to be")
    g = words(n, "grams")
    assert g == {"to": 2, "be": 2, "or": 1, "not": 1, "to be": 2,
                 "be or": 1, "or not": 1, "not to": 1}, g
    st = n.get("/api/v1/status")
    assert st["tables"] == 3, st


def test_tables_and_their_operations_survive_restarts():
    n = Node(persistence={"fsync": "always"}).start()
    create(n, "a", {"case": "fold"})
    create(n, "b")
    up(n, "a", "X x y")
    up(n, "b", "p q")
    n.upload("d d")
    n.json("POST", "/api/v1/admin/snapshot")
    n.json("POST", f"{T}/b/truncate")
    up(n, "b", "after")
    create(n, "c")
    up(n, "c", "gone")
    n.json("DELETE", f"{T}/c")
    n.json("DELETE", f"{T}/a/words/y")
    want = {"a": {"x": 2}, "b": {"after": 1}, "default": {"d": 2}}

    def check():
        assert sorted(t["name"] for t in n.get(T)) == sorted(want)
        for t, w in want.items():
            assert words(n, t) == w, (t, words(n, t))
        assert describe(n, "a")["tokenizer"]["case"] == "fold"
    check()
    for t, w in want.items():
        r = ctl("log", "counts", n.data, "--table", t)
        assert r.returncode == 0 and json.loads(r.stdout) == w, (t, r)
    n.kill()
    n.start()
    check()
    up(n, "a", "x")  # the profile still folds after the restart
    want["a"]["x"] = 3
    snap = n.json("POST", "/api/v1/admin/snapshot")
    n.stop()
    n.start()
    check()
    # the snapshot holds no word of the dropped or truncated generations
    n.stop()
    r = ctl("log", "print", n.data, "--json")
    types = [json.loads(x)["type"] for x in r.stdout.splitlines()]
    assert "create" in types and "truncate" in types and "drop" in types
    assert snap["lsn"] >= 12, snap


def _killed_in(n, point, body):
    n.fault(point, "kill", process="worker")
    try:
        n.request("POST", T, body, timeout=5)
        assert False, "answered"
    except Exception as e:  # noqa: BLE001 - the worker died
        print(f"# no answer: {type(e).__name__}")
    assert n.fault_fired(point) == 1
    n.wait_for(lambda: n.request("GET", "/healthz")[0] == 200,
               what="a worker back")


def test_a_worker_killed_in_a_table_operation_is_finished():
    need_faults()
    n = Node(workers=1).start()
    # killed before the record was published: taken back, no table, and
    # the ring lock it held is free again
    _killed_in(n, "table.copied", b'{"name":"never"}')
    st, _, _ = n.request("GET", f"{T}/never")
    assert st == 404, st
    n.upload("still works")
    # killed after: the master applies the record, then frees the lock
    _killed_in(n, "table.published", b'{"name":"k"}')
    # the record was published: the master applied it, the ring lock is
    # free again, and the table is there, in the log too
    assert describe(n, "k")["name"] == "k"
    up(n, "k", "one")
    assert words(n, "k") == {"one": 1}
    n.kill()
    n.start()
    assert words(n, "k") == {"one": 1}


def test_idempotency_keys_are_per_table():
    n = Node().start()
    create(n, "t")
    a = up(n, "t", "w w", key="k1")
    st, h, data = n.request("POST", f"{T}/t/upload", b"w w", {HDR: "k1"})
    assert st == 200 and h.get("Idempotent-Replayed") == "true", (st, h)
    assert json.loads(data) == a
    # the same key and body on another table is another upload: refused
    st, _, _ = n.request("POST", "/api/v1/upload", b"w w", {HDR: "k1"})
    assert st == 422, st
    # a table dropped and created again is another table
    n.json("DELETE", f"{T}/t")
    create(n, "t")
    st, _, _ = n.request("POST", f"{T}/t/upload", b"w w", {HDR: "k1"})
    assert st == 422, st
    assert words(n, "t") == {}
    # retract takes a key in a table as well
    up(n, "t", "r r r")
    st, _, _ = n.request("POST", f"{T}/t/retract", b"r", {HDR: "k2"})
    assert st == 200
    st, h, _ = n.request("POST", f"{T}/t/retract", b"r", {HDR: "k2"})
    assert st == 200 and h.get("Idempotent-Replayed") == "true"
    assert words(n, "t") == {"r": 2}


def test_replicas_and_a_full_sync_follow_the_tables():
    c = Cluster(3)
    leader = c.wait_leader()
    create(leader, "u", {"split": "unicode", "case": "fold"})
    up(leader, "u", "Hello hello WORLD")
    create(leader, "v")
    up(leader, "v", "v1 v2")
    leader.json("POST", f"{T}/v/truncate")
    up(leader, "v", "v3")
    create(leader, "w")
    leader.json("DELETE", f"{T}/w")
    want = {"u": {"hello": 2, "world": 1}, "v": {"v3": 1}}
    c.wait_converged()
    for n in c.nodes:
        n.wait_for(lambda n=n: [t["name"] for t in n.get(T)]
                   == ["default", "u", "v"], what="the tables")
        for t, w in want.items():
            assert words(n, t) == w, (n.id, t)
    # a node that joins late gets it all by a full sync of a snapshot
    leader.json("POST", "/api/v1/admin/snapshot")
    late = c.nodes[-1] if c.nodes[-1] is not leader else c.nodes[1]
    late.kill()
    import shutil
    shutil.rmtree(late.data)
    up(leader, "u", "again")
    late.start()

    def synced():
        st, _, body = late.request("GET", f"{T}/u/allwords")
        return st == 200 and json.loads(body) == {"hello": 2, "world": 1,
                                                  "again": 1}
    late.wait_for(synced, timeout=30, what="the full sync")
    assert words(late, "v") == {"v3": 1}
    assert describe(late, "u")["tokenizer"]["case"] == "fold"
    st, h, _ = late.request("POST", T, b'{"name":"x"}')
    assert st in (307, 503), st


def test_a_handover_meets_the_new_leaders_drop_and_truncate():
    # Uploads to two tables on a cut-off leader (acknowledged: both
    # tables are held by a majority).  Meanwhile the new leader drops one
    # and truncates the other.  The hand-over discards the increments to
    # the dropped table (counted) and adds the others after the truncate.
    from t_nemesis import NetLab, index_of
    with NetLab(3) as lab:
        c = lab.cluster()
        leader = c.wait_leader()
        create(leader, "gone")
        create(leader, "kept")
        up(leader, "kept", "before", )
        c.wait_converged()
        li = index_of(c, leader)
        lab.cut([li], [i for i in range(1, 4) if i != li])
        up(leader, "gone", "lost words")
        up(leader, "kept", "tail tail")
        # a table created there is not acknowledged, nor is an upload to it
        st, _, _ = leader.request("POST", T + "?timeout_ms=300",
                                  b'{"name":"new"}')
        assert st == 504, st
        st, _, _ = leader.request("POST", f"{T}/new/upload?timeout_ms=300",
                                  b"never")
        assert st == 504, st
        others = [n for n in c.nodes if n is not leader]
        new = c.wait_leader(others, exclude=(leader.id,), timeout=20)
        # (the other replica may still be catching up with it)
        new.json("DELETE", f"{T}/gone?timeout_ms=10000")
        new.json("POST", f"{T}/kept/truncate?timeout_ms=10000")
        up(new, "kept", "fresh")
        lab.heal()
        c.wait_converged(timeout=40)
        for n in c.alive():
            n.wait_for(lambda n=n: words(n, "kept") == {"tail": 2,
                                                        "fresh": 1},
                       timeout=30, what="the hand-over")
            assert [t["name"] for t in n.get(T)] == ["default", "kept"]
        # discarded: the upload to the dropped table, and the one to the
        # table only the tail created
        m = c.wait_leader().request("GET", "/metrics")[2].decode()
        got = [x for x in m.splitlines()
               if x.startswith("memdb_handover_discarded_total")]
        assert got == ["memdb_handover_discarded_total 2"], got
        c.assert_one_leader_per_epoch()


def _metric(n, name):
    """{labels: value} of one metric family in GET /metrics."""
    st, _, body = n.request("GET", "/metrics")
    assert st == 200
    out = {}
    for line in body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            k, v = line.rsplit(" ", 1)
            out[k[len(name):]] = int(float(v))
    return out


def test_a_dropped_tables_memory_is_reused():
    # 40000 words in table big, then big dropped: the master sweeps its
    # words out (a metric counts them) and the memory used goes down;
    # the same number of new words in a new table then takes the swept
    # entries, so the memory used comes back to about what it was, not
    # twice that.  A truncate frees the same way; default is untouched.
    n = Node().start()
    n.upload("keep me")
    create(n, "big")
    body = " ".join(f"w{i:07d}" for i in range(40000)).encode()
    up(n, "big", body)
    # (the master's census, every 5 s)
    n.wait_for(lambda: _metric(n, "memdb_table_distinct_words")
               == {'{table="default"}': 2, '{table="big"}': 40000},
               timeout=20, what="the census")
    assert _metric(n, "memdb_table_words")["{table=\"big\"}"] == 40000
    used = n.get("/api/v1/status")["memory"]["used"]
    n.json("DELETE", f"{T}/big")
    n.wait_for(lambda: _metric(n, "memdb_swept_words_total")
               .get("", 0) >= 40000, timeout=20, what="the sweep")
    freed = n.get("/api/v1/status")["memory"]["used"]
    assert freed <= used - 40000 * 24, (used, freed)  # entries of 24 B
    create(n, "new")
    up(n, "new", body.replace(b"w", b"x"))
    again = n.get("/api/v1/status")["memory"]["used"]
    assert again < used + 40000 * 8, (used, freed, again)
    got = words(n, "new", "?prefix=x001")
    assert got == \
        {f"x{i:07d}": 1 for i in range(10000, 20000)}, (len(got), list(got.items())[:3])
    sweeps = _metric(n, "memdb_sweeps_total")[""]
    n.json("POST", f"{T}/new/truncate")
    n.wait_for(lambda: _metric(n, "memdb_sweeps_total")[""] > sweeps,
               timeout=20, what="the sweep after the truncate")
    assert _metric(n, "memdb_swept_words_total")[""] >= 80000
    assert words(n, "new") == {}
    assert n.allwords() == {"keep": 1, "me": 1}
    assert n.get("/api/v1/status")["distinct"] == 2
    # and after a restart (the log has the drop and truncate)
    n.stop()
    n.start()
    assert n.allwords() == {"keep": 1, "me": 1}
    assert words(n, "new") == {}


def _icu_python():
    """A python3 that can import icu (Debian's python3-icu is for
    Debian's python3, which another python3 first on PATH may not be)."""
    import shutil
    import subprocess
    for py in ("python3", "/usr/bin/python3"):
        if shutil.which(py) and subprocess.run(
                [py, "-c", "import icu"], capture_output=True).returncode == 0:
            return py
    raise Skip("no python3 can import icu (apt-get install python3-icu)")


def _reference(py, prof, path, lines):
    """tests/words/tokref.py's counts (PyICU) of a file: of each line
    alone (lines) or of the whole text."""
    import subprocess
    r = subprocess.run([py, os.path.join(lib.SRCDIR, "tests", "words",
                                         "tokref.py"), json.dumps(prof),
                        path] + (["--lines"] if lines else []),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        term, n = line.rsplit("\t", 1)
        out[term] = int(n)
    return out


def test_unicode_profiles_match_pyicu_on_real_text():
    # Translations shipped by Debian packages (tests/words/corpus/README):
    # Japanese, Chinese, Thai and others, uploaded line by line to one
    # table and as one chunked body to another; every count must be the
    # independent implementation's (PyICU).
    py = _icu_python()
    corpus = os.path.join(lib.SRCDIR, "tests", "words", "corpus")
    files = ["ja-coreutils.txt", "zh_CN-coreutils.txt", "th-dpkg.txt",
             "ru-dpkg.txt"]
    profiles = [{"split": "unicode", "case": "fold", "normalize": "nfkc"},
                {"split": "unicode", "ngrams": 2, "trim": "punctuation"}]
    n = Node(http={"max_body": "16MiB"}).start()
    for i, prof in enumerate(profiles):
        create(n, f"lines{i}", prof)
        create(n, f"whole{i}", prof)
        want = {f"lines{i}": {}, f"whole{i}": {}}
        for f in files:
            path = os.path.join(corpus, f)
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            add(want[f"whole{i}"], _reference(py, prof, path, False))
            add(want[f"lines{i}"], _reference(py, prof, path, True))
            for line in text.splitlines(keepends=True):
                up(n, f"lines{i}", line)
            st = chunked_post(n, f"{T}/whole{i}/upload", text.encode(), 997)
            assert st == 200, st
        for t, w in want.items():
            got = words(n, t)
            diff = {k: (got.get(k), w.get(k))
                    for k in set(got) | set(w) if got.get(k) != w.get(k)}
            assert not diff, (t, prof, list(diff.items())[:10])
            print(f"# {t} {prof}: {len(w)} distinct, {sum(w.values())} "
                  "terms, exact")


def add(into, counts):
    for k, v in counts.items():
        into[k] = into.get(k, 0) + v


def chunked_post(n, path, data, size):
    """POSTs data in chunks of size bytes (Transfer-Encoding: chunked)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", n.port, timeout=60)
    try:
        c.request("POST", path, body=(data[k:k + size]
                                      for k in range(0, len(data), size)),
                  encode_chunked=True)
        r = c.getresponse()
        body = r.read()
        lib.record("POST", path, r.status, dict(r.getheaders()), body)
        return r.status
    finally:
        c.close()


def test_memdbctl_tables():
    n = Node().start()
    url = f"http://127.0.0.1:{n.port}"
    r = ctl("--node", url, "table", "create", "t", "--tokenizer",
            '{"case":"fold"}')
    assert r.returncode == 0 and "t" in r.stdout, r
    path = os.path.join(tempdir(), "in.txt")
    with open(path, "w") as f:
        f.write("One one \u6771\u4eac\n")
    r = ctl("--node", url, "upload", path, "--table", "t")
    assert r.returncode == 0, r
    r = ctl("--node", url, "count", "one", "--table", "t")
    assert r.returncode == 0 and "2" in r.stdout, r
    r = ctl("--node", url, "table", "list")
    assert r.returncode == 0 and "default" in r.stdout and "t " in r.stdout, r
    r = ctl("--node", url, "table", "describe", "t", "--json")
    assert json.loads(r.stdout)["tokenizer"]["case"] == "fold", r
    r = ctl("--node", url, "top", "--table", "t")
    assert r.returncode == 0 and "one" in r.stdout, r
    # the columns line up on a terminal: a CJK character is two columns
    import unicodedata

    def width(line):
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1
                   for ch in line)
    lines = r.stdout.splitlines()
    assert any("\u6771\u4eac" in x for x in lines), lines
    assert len({width(x) for x in lines}) == 1, lines
    r = ctl("--node", url, "forget", "one", "--table", "t")
    assert r.returncode == 0, r
    r = ctl("--node", url, "table", "truncate", "t")
    assert r.returncode == 0, r
    r = ctl("--node", url, "table", "drop", "t")
    assert r.returncode == 0, r
    r = ctl("--node", url, "table", "describe", "t")
    assert r.returncode == 4, r
    assert quote("t") == "t"


def test_every_status_of_the_table_endpoints():
    """The answers the other tests do not give: bad parameters, missing
    tables, HEAD, on one node."""
    n = Node().start()
    create(n, "s")
    up(n, "s", "one two")
    for path in (f"{T}/s/wordcount?word=one", f"{T}/s/allwords",
                 f"{T}/s/top", f"{T}/s", T):
        st, _, body = n.request("HEAD", path)
        assert st == 200 and body == b"", (path, st)
    for path in (f"{T}/s/wordcount?bad=1", f"{T}/s/allwords?bad=1",
                 f"{T}/s/top?n=0"):
        st, _, body = n.request("GET", path)
        assert st == 400, (path, st, body)
        st, _, body = n.request("HEAD", path)
        assert st == 400 and body == b"", (path, st)
    for path in (f"{T}/no/wordcount?word=x", f"{T}/no/top", f"{T}/no",
                 f"{T}/no/allwords"):
        st, _, _ = n.request("GET", path)
        assert st == 404, (path, st)
        st, _, body = n.request("HEAD", path)
        assert st == 404 and body == b"", (path, st)
    for method, path in (("DELETE", f"{T}/no"), ("POST", f"{T}/no/truncate"),
                         ("POST", f"{T}/no/retract"),
                         ("DELETE", f"{T}/no/words/x")):
        st, _, body = n.request(method, path, b"x" if "retract" in path
                                else None)
        assert st == 404 and b"no such table" in body, (method, path, st)
    st, _, body = n.request("POST", f"{T}/s/upload", b"bad \xff")
    assert st == 400 and json.loads(body)["offset"] == 4, body


def test_table_writes_on_a_replica_are_redirected():
    c = Cluster(2)
    leader = c.wait_leader()
    create(leader, "r")
    c.wait_converged()
    replica = next(n for n in c.nodes if n is not leader)
    replica.wait_for(lambda: replica.request("GET", f"{T}/r")[0] == 200,
                     what="the table on the replica")
    for method, path, body in (("POST", T, b'{"name":"x"}'),
                               ("DELETE", f"{T}/r", None),
                               ("POST", f"{T}/r/truncate", None),
                               ("POST", f"{T}/r/upload", b"w")):
        st, h, _ = replica.request(method, path, body)
        assert st == 307 and "Location" in h, (method, path, st)


def test_table_writes_on_a_replica_behind_are_redirected():
    # The replica has not received the table's creation yet (its
    # replicator is paused): its writes to the table still go to the
    # leader, never "no such table" from its own catalog.
    import signal
    c = Cluster(2)
    leader = c.wait_leader()
    replica = next(n for n in c.nodes if n is not leader)
    c.wait_converged()
    rp = replica.children("memdbd: replicator")
    assert rp, "the replica has no replicator"
    os.kill(rp[0], signal.SIGSTOP)
    try:
        create(leader, "late", expect=504)   # no replica acknowledged it
        up(leader, "late", "w w v", expect=504)
        assert replica.request("GET", f"{T}/late")[0] == 404
        for method, path, body in (("DELETE", f"{T}/late/words/w", None),
                                   ("DELETE", f"{T}/late", None),
                                   ("POST", f"{T}/late/truncate", None),
                                   ("POST", f"{T}/late/retract", b"w"),
                                   ("POST", f"{T}/late/upload", b"w")):
            st, h, body = replica.request(method, path, body)
            assert st == 307 and "Location" in h, (method, path, st, body)
    finally:
        os.kill(rp[0], signal.SIGCONT)
    c.wait_converged()
    st, _, body = replica.request("DELETE", f"{T}/late/words/w")
    assert st == 307, body
    st, _, body = leader.request("DELETE", f"{T}/late/words/w")
    assert st == 200, body
    c.wait_converged()
    assert words(replica, "late") == {"v": 1}


def test_a_cut_off_leader_does_not_acknowledge_table_operations():
    from t_nemesis import NetLab, index_of
    with NetLab(3) as lab:
        c = lab.cluster()
        leader = c.wait_leader()
        create(leader, "x")
        create(leader, "y")
        c.wait_converged()
        li = index_of(c, leader)
        lab.cut([li], [i for i in range(1, 4) if i != li])
        st, _, _ = leader.request("DELETE", f"{T}/x?timeout_ms=300")
        assert st == 504, st
        st, _, _ = leader.request("POST", f"{T}/y/truncate?timeout_ms=300")
        assert st == 504, st
        others = [n for n in c.nodes if n is not leader]
        c.wait_leader(others, exclude=(leader.id,), timeout=20)
        lab.heal()
        c.wait_converged(timeout=40)
        # neither was acknowledged: dropped with the tail
        for n in c.alive():
            n.wait_for(lambda n=n: sorted(t["name"] for t in n.get(T))
                       == ["default", "x", "y"], timeout=30,
                       what="the tables of the new leader")
