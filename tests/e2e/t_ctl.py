"""memdbctl against live nodes: every HTTP command, its text and --json
output, streaming uploads (file, stdin, 100 MB, redirects to the leader),
dump, the cluster commands, and the exit codes of ctl.h (2 usage, 3
unreachable, 4 for 4xx, 5 for 5xx)."""
import json
import os
import re
import socket
import subprocess
import threading
import time

from lib import MEMDBCTL, Cluster, Node, free_port, tempdir


def ctl(node, *args, url=None, env=None, **kw):
    """Runs memdbctl --node <node> ARGS (node None: no --node)."""
    argv = [MEMDBCTL]
    if node is not None or url is not None:
        argv += ["--node", url or f"http://127.0.0.1:{node.port}"]
    kw.setdefault("timeout", 60)
    full_env = dict(os.environ)
    full_env.pop("MEMDB_URL", None)
    full_env.pop("MEMDB_TOKEN", None)
    full_env.update(env or {})
    return subprocess.run(argv + list(args), capture_output=True,
                          env=full_env, **kw)


def out(r):
    return r.stdout.decode()


def err(r):
    return r.stderr.decode()


def ok(r):
    assert r.returncode == 0, (r.returncode, out(r), err(r))
    return out(r)


def rows(text):
    return [line.split() for line in text.splitlines()]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def test_status_text_and_json():
    n = Node().start()
    n.upload("a b c")
    text = ok(ctl(n, "status"))
    kv = dict(line.split(None, 1) for line in text.splitlines())
    assert kv["node"] == "n1" and kv["role"] == "standalone"
    assert kv["words"] == "3" and kv["lsn"] == "1"
    assert kv["persistence.fsync"] == "everysec"
    assert "memory.limit" in kv and "recovery.records" in kv
    # values start in one column
    cols = {len(line) - len(line.split(None, 1)[1])
            for line in text.splitlines()}
    assert len(cols) == 1, text
    st = json.loads(ok(ctl(n, "--json", "status")))
    assert st["words"] == 3 and st["persistence"]["fsync"] == "everysec"
    # --json after the command too
    assert json.loads(ok(ctl(n, "status", "--json")))["lsn"] == 1


def test_count_words():
    n = Node().start()
    n.upload("the cat and the hat é")
    t = rows(ok(ctl(n, "count", "the", "é", "dog", "a&b=c")))
    assert t == [["WORD", "COUNT"], ["the", "2"], ["é", "1"], ["dog", "0"],
                 ["a&b=c", "0"]]
    n.upload("a&b=c 100%")
    got = json.loads(ok(ctl(n, "--json", "count", "a&b=c", "100%", "the")))
    assert got == {"a&b=c": 1, "100%": 1, "the": 2}


def test_count_errors_are_exit_4():
    n = Node().start()
    r = ctl(n, "count", b"\xff")                 # not UTF-8: the node's 400
    assert r.returncode == 4, err(r)
    assert err(r).startswith("memdbctl: 400 Bad Request: parameter \"word\"")
    r = ctl(n, "count", "")
    assert r.returncode == 4, err(r)
    r = ctl(n, "count", *[f"w{i}" for i in range(1025)])
    assert r.returncode == 4 and "(limit 1024)" in err(r), err(r)
    assert out(r) == ""


def test_upload_small_file_and_stdin():
    n = Node().start()
    p = write(os.path.join(tempdir(), "small.txt"), "red green blue red\n")
    r = ctl(n, "upload", p)
    kv = dict(rows(ok(r)))
    assert kv == {"words": "4", "distinct": "3", "lsn": "1"}, kv
    assert err(r) == ""
    # stdin: unknown size, sent chunked
    r = ctl(n, "--json", "upload", "-", input=b"from stdin red")
    assert json.loads(ok(r)) == {"words": 3, "distinct": 3, "lsn": 2}
    assert n.count("red", "stdin") == {"red": 3, "stdin": 1}
    # an empty body is an upload of nothing
    assert dict(rows(ok(ctl(n, "upload", "-", input=b""))))["words"] == "0"


def test_upload_errors():
    n = Node().start()
    r = ctl(n, "upload", "/nonexistent/file")
    assert r.returncode == 2 and "No such file" in err(r), err(r)
    r = ctl(n, "upload", tempdir())
    assert r.returncode == 2 and "directory" in err(r), err(r)
    r = ctl(n, "upload", "-", input=b"bad \xff utf8")
    assert r.returncode == 4, err(r)
    assert "400 Bad Request: body is not valid UTF-8 (offset 4)" in err(r)
    # a 5xx is exit 5: wait for replicas a standalone node does not have
    p = write(os.path.join(tempdir(), "w.txt"), "wait for it")
    r = ctl(n, "upload", p, "--wait", "1", "--timeout-ms", "100")
    assert r.returncode == 5, err(r)
    assert err(r).startswith("memdbctl: 504 Gateway Timeout: "), err(r)
    r = ctl(n, "upload", p, "--wait", "x")
    assert r.returncode == 2, err(r)


def big_file(path, size):
    """size bytes of repeated lines of 8 words; returns the word count."""
    line = "lorem ipsum dolor sit amet consectetur adipiscing elit\n"
    reps = size // len(line)
    block = line * 10000
    with open(path, "w") as f:
        for _ in range(reps // 10000):
            f.write(block)
        f.write(line * (reps % 10000))
    return reps * 8


def run_measured(argv):
    """Runs argv (stdout and stderr to files, not a terminal); returns its
    exit code, stdout, stderr and peak RSS in KiB.  The peak is VmHWM read
    from /proc while it runs: exec starts a fresh address space, so the
    forking test runner's memory does not count (ru_maxrss would)."""
    d = tempdir()
    peak = 0
    with open(os.path.join(d, "out"), "w+b") as fo, \
            open(os.path.join(d, "err"), "w+b") as fe:
        p = subprocess.Popen(argv, stdout=fo, stderr=fe)
        deadline = time.monotonic() + 60
        while p.poll() is None and time.monotonic() < deadline:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.005)
        if p.poll() is None:
            p.kill()
        p.wait()
        fo.seek(0)
        fe.seek(0)
        return p.returncode, fo.read().decode(), fe.read().decode(), peak


def test_upload_100mb_file_streams():
    n = Node(http={"max_body": "256MiB"},
             persistence={"ring_size": "16MiB"}).start()
    p = os.path.join(tempdir(), "big.txt")
    words = big_file(p, 100 << 20)
    assert os.path.getsize(p) > 100 * 10 ** 6
    t0 = time.monotonic()
    r = ctl(n, "--json", "upload", p, timeout=60)
    dt = time.monotonic() - t0
    ans = json.loads(ok(r))
    print(f"# 100 MB upload took {dt:.1f}s: {ans}")
    # in pieces of about 8 MiB cut after a newline, two at once (the
    # node's workers), each counted once
    assert ans["words"] == words, ans
    assert ans["pieces"] == 13 and ans["parallel"] == 2, ans
    assert ans["bytes"] == os.path.getsize(p), ans
    assert err(r) == "", err(r)            # stderr is a pipe: no progress bar
    assert rows(ok(ctl(n, "count", "lorem")))[1] == ["lorem", str(words // 8)]
    st = json.loads(ok(ctl(n, "--json", "status")))
    assert st["words"] == words
    # through a pipe (chunked), without loading it: memdbctl stays small
    with open(p, "rb") as f:
        r = subprocess.run([MEMDBCTL, "--node", f"http://127.0.0.1:{n.port}",
                            "--json", "upload", "-"], stdin=f,
                           capture_output=True, timeout=60)
    assert json.loads(ok(r))["words"] == words, (r.stdout, r.stderr[-500:])
    rc, o, e, rss = run_measured([MEMDBCTL, "--node",
                                  f"http://127.0.0.1:{n.port}", "upload", p])
    assert rc == 0 and e == "", (rc, e)
    assert rss < 40 * 1024, f"memdbctl used {rss} KiB"
    assert n.count("elit") == {"elit": 3 * words // 8}


def test_a_large_file_goes_in_pieces_each_counted_once():
    # 40 MB: 5 pieces cut after a newline, sent two at once, each with the
    # key K-i; sent again with the same --key, every piece is a replay and
    # nothing counts twice.  A table that forms n-grams gets it whole.
    n = Node(http={"max_body": "256MiB"}).start()
    p = os.path.join(tempdir(), "big.txt")
    words = big_file(p, 40 << 20)
    first = json.loads(ok(ctl(n, "--json", "upload", p, "--key", "K1",
                              timeout=120)))
    assert first["words"] == words and first["pieces"] == 5, first
    again = json.loads(ok(ctl(n, "--json", "upload", p, "--key", "K1",
                              timeout=120)))
    assert again["words"] == words, again
    st = json.loads(ok(ctl(n, "--json", "status")))
    assert st["words"] == words, st
    assert st["idempotency"]["replays"] == 5, st["idempotency"]
    text = dict(line.split(None, 1) for line in
                ok(ctl(n, "upload", p, timeout=120)).splitlines())
    assert text["words"] == str(words), text
    assert text["pieces"] == "5 (2 at once)", text
    assert "MB/s" in text["rate"], text
    assert json.loads(ok(ctl(n, "--json", "status")))["words"] == 2 * words
    ok(ctl(n, "table", "create", "bi", "--tokenizer", '{"ngrams": 2}'))
    whole = json.loads(ok(ctl(n, "--json", "upload", p, "--table", "bi",
                              timeout=120)))
    assert "pieces" not in whole and whole["words"] == 2 * words - 1, whole
    assert n.get("/api/v1/tables/bi/wordcount?word=elit%20lorem") == \
        {"elit lorem": words // 8 - 1}


def test_top():
    n = Node().start()
    n.upload("a a a b b c d d d d")
    t = rows(ok(ctl(n, "top", "-n", "3")))
    assert t == [["RANK", "WORD", "COUNT"], ["1", "d", "4"], ["2", "a", "3"],
                 ["3", "b", "2"]], t
    assert len(rows(ok(ctl(n, "top")))) == 5          # default 10: all 4
    got = json.loads(ok(ctl(n, "--json", "top", "-n", "1")))
    assert got == [{"word": "d", "count": 4}]
    r = ctl(n, "top", "-n", "0")
    assert r.returncode == 4 and "parameter \"n\"" in err(r), err(r)
    for bad in (["-n"], ["-n", "many"], ["extra"], ["--prefix", "a"]):
        r = ctl(n, "top", *bad)
        assert r.returncode == 2, (bad, err(r))
        assert "usage: memdbctl" in err(r), err(r)


def test_dump_to_file_and_stdout():
    n = Node().start()
    words = [f"w{i}-ü" for i in range(5000)]
    n.upload(" ".join(words) + " hat ham hat")
    whole = json.loads(ok(ctl(n, "dump")))
    assert len(whole) == 5002 and whole["hat"] == 2 and whole["w7-ü"] == 1
    d = tempdir()
    p = os.path.join(d, "dump.json")
    r = ctl(n, "dump", p)
    assert ok(r) == "" and err(r) == ""
    with open(p) as f:
        assert json.load(f) == whole
    got = json.loads(ok(ctl(n, "dump", "--prefix", "ha")))
    assert got == {"hat": 2, "ham": 1}
    assert len(json.loads(ok(ctl(n, "dump", "--limit", "10")))) == 10
    assert json.loads(ok(ctl(n, "dump", "-", "--prefix", "ham"))) == \
        {"ham": 1}
    # a failed dump leaves no file behind
    q = os.path.join(d, "none.json")
    r = ctl(None, "dump", q, url=f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 3 and not os.path.exists(q)
    r = ctl(n, "dump", q, "--prefix", b"\xff")
    assert r.returncode == 4 and not os.path.exists(q), err(r)
    r = ctl(n, "dump", "--limit", "-1")
    assert r.returncode == 2, err(r)


def test_snapshot():
    n = Node().start()
    n.upload("snap shot")
    kv = dict(rows(ok(ctl(n, "snapshot"))))
    assert kv["lsn"] == "1" and os.path.exists(kv["path"]), kv
    ans = json.loads(ok(ctl(n, "--json", "snapshot")))
    assert ans["lsn"] == 1 and ans["path"] == kv["path"]


def test_unreachable_is_exit_3():
    port = free_port()
    for args in (["status"], ["count", "x"], ["top"], ["snapshot"],
                 ["cluster", "nodes"], ["upload", "-", "--retry-for", "0"]):
        r = ctl(None, *args, url=f"http://127.0.0.1:{port}", input=b"x")
        assert r.returncode == 3, (args, err(r))
        assert err(r).startswith(
            f"memdbctl: cannot reach http://127.0.0.1:{port}: "), err(r)
        assert out(r) == ""
    # upload tries again (stdin too, while nothing of it was read) until
    # --retry-for ends, then names the key to send it with again
    t0 = time.monotonic()
    r = ctl(None, "upload", "-", "--retry-for", "1",
            url=f"http://127.0.0.1:{port}", input=b"x")
    assert r.returncode == 3, err(r)
    assert 0.5 < time.monotonic() - t0 < 10
    assert "try 2 failed" in err(r) and "--key memdbctl-" in err(r), err(r)


def test_usage_errors_are_exit_2():
    n = Node().start()
    for args in ([], ["bogus"], ["count"], ["upload"], ["upload", "a", "b"],
                 ["status", "extra"], ["cluster"], ["cluster", "zap"],
                 ["cluster", "meet"], ["cluster", "forget"],
                 ["cluster", "nodes", "x"], ["snapshot", "--wait", "1"],
                 ["--no-such-global", "status"], ["status", "--bogus"]):
        r = ctl(n, *args)
        assert r.returncode == 2, (args, r.returncode, err(r))
        assert err(r), args
    r = ctl(None, "status", url="ftp://127.0.0.1:1")
    assert r.returncode == 2, err(r)
    r = ctl(n, "--token-file", "/nonexistent", "status")
    assert r.returncode == 2, err(r)
    r = ctl(n, "--help")
    assert r.returncode == 0
    for cmd in ("status", "count", "upload", "top", "dump", "snapshot",
                "cluster nodes", "cluster meet", "cluster failover",
                "cluster forget", "log verify"):
        assert cmd in out(r), cmd


def test_node_url_precedence():
    a = Node(node_id="na").start()
    b = Node(node_id="nb").start()
    env = {"MEMDB_URL": f"http://127.0.0.1:{a.port}"}
    assert dict(rows(ok(ctl(None, "status", env=env))))["node"] == "na"
    r = ctl(b, "status", env=env)                  # --node wins
    assert dict(rows(ok(r)))["node"] == "nb"
    # no scheme, trailing slash
    r = ctl(None, "status", url=f"127.0.0.1:{b.port}/", env=env)
    assert dict(rows(ok(r)))["node"] == "nb"
    # neither: the default address
    r = ctl(None, "status")
    if r.returncode == 3:
        assert "http://127.0.0.1:9889" in err(r), err(r)


def redirect_once(target):
    """A one-shot HTTP server that reads a whole upload (after "100
    Continue"), and only then answers 307 to target: memdbctl has to send
    the body a second time."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(30)

    def body_done(head, body):
        if b"chunked" in head.lower():
            return body.endswith(b"0\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                return len(body) >= int(line.split(b":")[1])
        return True

    def serve():
        c, _ = srv.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += c.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        if b"100-continue" in head.lower():
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        while not body_done(head, body):
            chunk = c.recv(65536)
            if not chunk:
                break
            body += chunk
        c.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: "
                  + target.encode() + b"\r\nContent-Length: 2\r\n"
                  b"Connection: close\r\n\r\n{}")
        c.close()
        srv.close()
    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


def test_upload_resends_a_file_but_not_stdin_after_redirect():
    n = Node().start()
    to = f"http://127.0.0.1:{n.port}/api/v1/upload"
    p = write(os.path.join(tempdir(), "f.txt"), "one two three")
    port = redirect_once(to)
    r = ctl(None, "upload", p, url=f"http://127.0.0.1:{port}")
    assert dict(rows(ok(r)))["words"] == "3"
    port = redirect_once(to)
    r = ctl(None, "upload", "-", url=f"http://127.0.0.1:{port}",
            input=b"four five")
    assert r.returncode == 1, (r.returncode, err(r))
    assert "cannot be read twice" in err(r) and to in err(r), err(r)
    assert n.count("one", "four") == {"one": 1, "four": 0}


def test_cluster_redirect_nodes_and_failover():
    c = Cluster(3)
    n1, n2, n3 = c.nodes
    p = write(os.path.join(tempdir(), "r.txt"), "via replica via")
    # a replica sends uploads on to the leader (307): file and stdin
    kv = dict(rows(ok(ctl(n2, "upload", p, "--wait", "2",
                          "--timeout-ms", "3000"))))
    assert kv["words"] == "3" and kv["replicas"] == "2", kv
    ans = json.loads(ok(ctl(n3, "--json", "upload", "-", input=b"via pipe")))
    assert ans["lsn"] == 2
    assert n1.count("via") == {"via": 3}
    t = rows(ok(ctl(n2, "cluster", "nodes")))
    assert t[0] == ["ID", "ROLE", "STATE", "EPOCH", "LSN", "LAG", "HTTP",
                    "GOSSIP"]
    byid = {r[0]: r for r in t[1:]}
    assert set(byid) == {"n1", "n2*", "n3"}, t
    assert byid["n1"][1] == "leader" and byid["n2*"][1] == "replica"
    assert byid["n3"][6] == f"127.0.0.1:{n3.port}"
    assert byid["n3"][7] == f"127.0.0.1:{n3.gport}"
    view = json.loads(ok(ctl(n1, "--json", "cluster", "nodes")))
    assert view["leader"] == "n1" and len(view["nodes"]) == 3
    # failover must be asked of the leader
    r = ctl(n2, "cluster", "failover")
    assert r.returncode == 4 and "not the leader" in err(r), err(r)
    assert ok(ctl(n1, "cluster", "failover", "n2")).strip() == \
        "leader: n2 (was n1)"
    assert c.wait_leader(exclude=("n1",)).id == "n2"
    ans = json.loads(ok(ctl(n2, "--json", "cluster", "failover")))
    assert ans["was"] == "n2" and ans["leader"] in ("n1", "n3"), ans
    r = ctl(n1, "cluster", "failover", "nx")
    assert r.returncode == 4, err(r)


def test_cluster_meet():
    c = Cluster(2)
    n1 = c.nodes[0]
    n3 = Node(node_id="n3", workers=1)
    n3.gport = free_port()
    n3.rport = free_port()
    n3.cfg["cluster"] = {"gossip": f"127.0.0.1:{n3.gport}",
                         "replication": f"127.0.0.1:{n3.rport}",
                         "probe_interval": "100ms", "probe_timeout": "50ms"}
    n3.start()
    c.nodes.append(n3)
    r = ctl(n1, "cluster", "meet", "not-an-address")
    assert r.returncode == 4 and "409 Conflict" in err(r), err(r)
    assert "ok" in ok(ctl(n1, "cluster", "meet", f"127.0.0.1:{n3.gport}"))
    c.wait_members()
    ids = {r[0] for r in rows(ok(ctl(n3, "cluster", "nodes")))[1:]}
    assert ids == {"n1", "n2", "n3*"}, ids
    # a node that runs alone refuses cluster commands: 409
    alone = Node(node_id="solo").start()
    r = ctl(alone, "cluster", "meet", f"127.0.0.1:{n3.gport}")
    assert r.returncode == 4 and "runs alone" in err(r), err(r)


def test_cluster_forget():
    c = Cluster(3)
    n1, _, n3 = c.nodes
    r = ctl(n1, "cluster", "forget", "nobody")
    assert r.returncode == 4, err(r)
    assert err(r) == "memdbctl: 409 Conflict: no member \"nobody\"\n"
    n3.kill()
    r = ctl(n1, "cluster", "forget", "n3")      # not dead yet
    assert r.returncode == 4 and "not dead" in err(r), err(r)
    n1.wait_for(lambda: any(m["id"] == "n3" and m["state"] == "dead"
                            for m in c.view(n1)["nodes"]), what="n3 dead")
    assert ok(ctl(n1, "cluster", "forget", "n3")).strip() == \
        "ok: n3 forgotten"
    n1.wait_for(lambda: {r[0] for r in rows(ok(ctl(n1, "cluster", "nodes")))
                         [1:]} == {"n1*", "n2"}, what="n3 gone from nodes")
    assert json.loads(ok(ctl(n1, "--json", "cluster", "forget", "n3"))) == \
        {"status": "ok"}                         # forgetting again is fine


def capture_request(answer=b'{"words":0,"distinct":0,"lsn":1}'):
    """A one-shot HTTP server that records the request head and body and
    answers 200 with answer; returns (port, dict filled in by then)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(30)
    got = {}

    def serve():
        c, _ = srv.accept()
        c.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            data += c.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        if b"100-continue" in head.lower():
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        chunked = b"transfer-encoding: chunked" in head.lower()
        while chunked and not body.endswith(b"0\r\n\r\n"):
            body += c.recv(65536)
        m = re.search(rb"content-length: *(\d+)", head.lower())
        while m and len(body) < int(m.group(1)):
            body += c.recv(65536)
        got["head"] = head.decode()
        got["body"] = body
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n%s" % (len(answer), answer))
        c.close()
        srv.close()
    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], got


def test_request_headers():
    d = tempdir()
    p = write(os.path.join(d, "f.txt"), "sized body")
    port, got = capture_request()
    ok(ctl(None, "upload", p, url=f"http://127.0.0.1:{port}"))
    head = got["head"].lower()
    assert head.startswith("post /api/v1/upload http/1.1"), head
    assert "content-length: 10" in head and "chunked" not in head, head
    assert "authorization" not in head, head
    assert got["body"] == b"sized body"
    # stdin: chunked; a token from $MEMDB_TOKEN
    port, got = capture_request()
    ok(ctl(None, "upload", "-", "--wait", "1", "--timeout-ms", "50",
           url=f"http://127.0.0.1:{port}", input=b"piped body",
           env={"MEMDB_TOKEN": "tok-from-env"}))
    head = got["head"].lower()
    assert head.startswith("post /api/v1/upload?wait=1&timeout_ms=50 "), head
    assert "transfer-encoding: chunked" in head, head
    assert "authorization: bearer tok-from-env" in head, head
    assert b"piped body" in got["body"]
    # --token-file wins over the environment
    tok = write(os.path.join(d, "token"), "  tok-from-file \n")
    port, got = capture_request(b'{"words":1,"lsn":1,"path":"x","ms":0}')
    ok(ctl(None, "--token-file", tok, "snapshot",
           url=f"http://127.0.0.1:{port}",
           env={"MEMDB_TOKEN": "tok-from-env"}))
    assert got["head"].startswith("POST /api/v1/admin/snapshot ")
    assert "Authorization: Bearer tok-from-file\r\n" in got["head"]
