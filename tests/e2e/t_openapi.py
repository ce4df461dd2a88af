"""The API description (GET /openapi.yaml, GET /docs), and the responses
no other test provokes, so that the contract test (tests/contract) sees
every status code swagger/openapi.yaml documents for every operation."""
import json
import os
import re
import signal
import socket
import threading
import time

import lib
from lib import Cluster, Node, parse_responses, raw, recv_all, tempdir

SPEC = os.path.join(lib.SRCDIR, "swagger", "openapi.yaml")


def operations(text):
    """(METHOD, path) of every operation of an OpenAPI document (the
    layout of swagger/openapi.yaml: paths at two spaces, methods at four)."""
    ops, path, in_paths = [], None, False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            in_paths = line.startswith("paths:")
            continue
        if not in_paths:
            continue
        m = re.match(r"^  (/\S*):$", line)
        if m:
            path = m.group(1)
            continue
        m = re.match(r"^    (get|head|post|put|delete|patch):$", line)
        if m and path:
            ops.append((m.group(1).upper(), path))
    return ops


def test_openapi_yaml_and_docs_are_served():
    n = Node().start()
    st, hdrs, body = n.request("GET", "/openapi.yaml")
    assert st == 200 and hdrs["Content-Type"] == "application/yaml", hdrs
    with open(SPEC, "rb") as f:
        assert body == f.read(), "GET /openapi.yaml is not swagger/openapi.yaml"
    version = re.search(rb"^  version: *(\S+)$", body, re.M).group(1)
    assert version.decode() == n.get("/api/v1/status")["version"]
    ops = operations(body.decode())
    assert ("GET", "/openapi.yaml") in ops and ("GET", "/docs") in ops, ops
    assert len(ops) >= 14, ops

    st, hdrs, page = n.request("GET", "/docs")
    assert st == 200, st
    assert hdrs["Content-Type"] == "text/html; charset=utf-8", hdrs
    assert int(hdrs["Content-Length"]) == len(page)
    assert b"<html" in page[:200].lower()
    for _, path in ops:
        assert path.encode() in page, f"/docs does not mention {path}"
    # nothing on the page is loaded from another host
    bad = re.findall(rb'<(?:script|img)[^>]* src="https?:|<link[^>]* '
                     rb'href="https?:|fonts\.googleapis|cdn\.redoc\.ly', page)
    assert not bad, bad

    # over HTTP/1.0, read in small pieces, it is all there (the body is
    # written a piece at a time as the client reads)
    s = socket.create_connection(("127.0.0.1", n.port), timeout=10)
    s.sendall(b"GET /docs HTTP/1.0\r\n\r\n")
    parts = []
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        parts.append(chunk)
    s.close()
    got = b"".join(parts)
    lib.record_raw(b"GET /docs HTTP/1.0\r\n\r\n", got)
    assert got.partition(b"\r\n\r\n")[2] == page
    st, hdrs, _ = n.request("POST", "/openapi.yaml", b"")
    assert st == 405 and hdrs["Allow"] == "GET, HEAD"
    st, hdrs, body = n.request("HEAD", "/docs")
    assert st == 200 and body == b"" and \
        int(hdrs["Content-Length"]) == len(page)


def _slow_head(port, method, path):
    """A request head that never ends: answered 408."""
    sent = f"{method} {path} HTTP/1.1\r\nHost: x\r\n".encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(sent)
    return s, sent


def test_protocol_errors_on_every_operation():
    n = Node(http={"max_body": "1KiB", "max_header": "1KiB",
                   "header_timeout": "500ms"}).start()
    ops = operations(n.request("GET", "/openapi.yaml")[2].decode())
    slow = [(m, p, *_slow_head(n.port, m, p)) for m, p in ops]
    for method, path in ops:
        line = f"{method} {path} HTTP/1.1\r\nHost: x\r\n".encode()
        for req, want in (
                (line + b"Bad Header\r\n\r\n", 400),
                (line + b"Content-Length: 2000\r\n\r\n", 413),
                (line + b"Expect: nothing\r\n\r\n", 417),
                (line + b"X-Big: " + b"a" * 1500 + b"\r\n\r\n", 431),
                (line + b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
                (f"{method} {path} HTTP/1.2\r\nHost: x\r\n\r\n".encode(),
                 505)):
            resp = parse_responses(raw(n.port, req), [method])
            assert resp and resp[0][0] == want, (method, path, want, resp)
            assert resp[0][1].get("connection") == "close"
            if method == "HEAD":        # the answer ends at its head
                assert resp[0][2] == b"", resp
                continue
            err = json.loads(resp[0][2])
            assert err["status"] == want and err["error"], err
    for method, path, s, sent in slow:
        got = b""
        while b"\r\n\r\n" not in got or not got.endswith(b"}\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        s.close()
        (st, hdrs, body), = parse_responses(got, [method])
        assert st == 408, (method, path, got)
        lib.record(method, path, st, hdrs, body)


def test_reads_time_out_waiting_for_min_lsn():
    n = Node().start()
    n.upload("one")
    for path in ("/api/v1/wordcount?word=one&", "/api/v1/allwords?",
                 "/api/v1/top?", "/api/v1/tables/default/wordcount?word=one&",
                 "/api/v1/tables/default/allwords?",
                 "/api/v1/tables/default/top?"):
        st, hdrs, body = n.request("GET", path + "min_lsn=5&timeout_ms=50")
        assert st == 504, (path, st, body)
        assert json.loads(body)["lsn"] == 1 and hdrs["X-Memdb-LSN"] == "1"
        st, _, _ = n.request("GET", path + "min_lsn=1&timeout_ms=50")
        assert st == 200
        st, hdrs, body = n.request("HEAD", path + "min_lsn=5&timeout_ms=50")
        assert st == 504 and body == b"" and hdrs["X-Memdb-LSN"] == "1"


def test_admin_token_and_cluster_commands_on_a_standalone_node():
    d = tempdir()
    tok = os.path.join(d, "token")
    with open(tok, "w") as f:
        f.write("0123456789abcdef-token\n")
    n = Node(admin={"token_file": tok}).start()
    auth = {"Authorization": "Bearer 0123456789abcdef-token"}
    for path in ("/api/v1/cluster/meet?addr=127.0.0.1:1",
                 "/api/v1/cluster/failover", "/api/v1/cluster/forget?node=x",
                 "/api/v1/admin/snapshot"):
        st, hdrs, body = n.request("POST", path)
        assert st == 401 and hdrs["WWW-Authenticate"].startswith("Bearer"), \
            (path, st, body)
        if "cluster" in path:
            st, _, body = n.request("POST", path, headers=auth)
            assert st == 409 and "runs alone" in json.loads(body)["error"], \
                (path, st, body)
    assert n.get("/api/v1/cluster/nodes") == {"leader": "", "nodes": []}


def test_cluster_commands_with_a_stuck_replicator_and_bad_parameters():
    c = Cluster(1)
    n1 = c.nodes[0]
    # a replicator that does not take commands: 503 after 3 s (first, while
    # no command has been taken yet)
    repl = n1.children("memdbd: replicator")
    assert len(repl) == 1, repl
    os.kill(repl[0], signal.SIGSTOP)
    try:
        out = {}

        def post(path):
            out[path] = n1.request("POST", path, timeout=15)
        ts = [threading.Thread(target=post, args=(p,)) for p in (
            "/api/v1/cluster/meet?addr=127.0.0.1:1",
            "/api/v1/cluster/failover", "/api/v1/cluster/forget?node=n9")]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert 2.5 < time.monotonic() - t0 < 10
    finally:
        os.kill(repl[0], signal.SIGCONT)
    for path, (st, _, body) in out.items():
        assert st == 503 and "replicator" in json.loads(body)["error"], \
            (path, st, body)
    for path in ("/api/v1/cluster/meet", "/api/v1/cluster/meet?addr=x&to=y",
                 "/api/v1/cluster/failover?node=n2",
                 "/api/v1/cluster/forget", "/api/v1/cluster/forget?nod=n2"):
        st, _, body = n1.request("POST", path)
        assert st == 400, (path, st, body)
    st, _, body = n1.request("POST", "/api/v1/cluster/meet?addr=no-port")
    assert st == 409 and "HOST:PORT" in json.loads(body)["error"], body


def test_failed_snapshot_gives_500():
    n = Node(persistence={"snapshot_every": "off"}).start()
    n.upload("some words")
    snap = os.path.join(n.data, "snap")
    os.rename(snap, snap + ".away")
    with open(snap, "w") as f:
        f.write("not a directory\n")
    st, _, body = n.request("POST", "/api/v1/admin/snapshot")
    assert st == 500, (st, body)
    assert n.get("/api/v1/status")["persistence"]["snapshot_failures"] == 1
    os.unlink(snap)
    os.rename(snap + ".away", snap)
    assert n.json("POST", "/api/v1/admin/snapshot")["lsn"] == 1


def test_healthz_503_while_shutting_down():
    n = Node(workers=1).start()
    socks = []
    for method in (b"GET", b"HEAD"):
        s = socket.create_connection(("127.0.0.1", n.port), timeout=10)
        s.sendall(method + b" /healthz HTTP/1.1\r\nHost: x\r\n")  # not yet
        socks.append((method, s))
    time.sleep(0.2)
    n.signal(signal.SIGTERM)
    time.sleep(0.5)                    # the worker drains, the request waits
    for method, s in socks:
        s.sendall(b"\r\n")
        got = recv_all(s)
        s.close()
        lib.record_raw(method + b" /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                       got)
        (st, hdrs, body), = parse_responses(got, [method.decode()])
        assert st == 503 and hdrs.get("connection") == "close", got
        if method == b"GET":
            assert json.loads(body)["error"] == "shutting down"
        else:
            assert body == b"" and got.endswith(b"\r\n\r\n"), got
    assert n.proc.wait(timeout=30) == 0


def test_reads_503_while_a_replica_installs_a_full_copy():
    c = Cluster(2, persistence={"segment_size": "64KiB", "keep_segments": 0,
                                "snapshot_every": "off",
                                "replica_backlog": 0})
    n1, n2 = c.nodes
    n1.upload("old words here")
    c.wait_converged()
    n2.kill()
    for i in range(80):
        n1.upload(" ".join(f"bulk{i}-{j}" for j in range(200)))
    n1.json("POST", "/api/v1/admin/snapshot")    # n2's next LSN is gone
    # n2 needs a full sync; its replicator is held (a fault point) once
    # it has begun to install the copy: it stays "syncing"
    lib.need_faults()
    os.environ["MEMDB_FAULTS"] = "follow.snapshot_in=stop@replicator"
    try:
        n2.start()
    finally:
        del os.environ["MEMDB_FAULTS"]
    n2.wait_for(lambda: n2.request("GET", "/api/v1/wordcount?word=old")[0]
                == 503, timeout=20, what="503 while n2 resyncs")
    assert n2.get("/api/v1/status")["cluster"]["syncing"] is True
    for path in ("/api/v1/wordcount?word=old", "/api/v1/allwords",
                 "/api/v1/top", "/api/v1/tables/default/wordcount?word=old",
                 "/api/v1/tables/default/allwords",
                 "/api/v1/tables/default/top"):
        st, hdrs, body = n2.request("GET", path)
        assert st == 503, (path, st, body)
        assert "resynchronized" in json.loads(body)["error"]
        assert "X-Memdb-LSN" in hdrs
        st, hdrs, body = n2.request("HEAD", path)
        assert st == 503 and body == b"" and "X-Memdb-LSN" in hdrs
    for path in ("/api/v1/tables", "/api/v1/tables/default"):
        st, _, body = n2.request("GET", path)
        assert st == 503 and b"resynchronized" in body, (path, st, body)
        st, _, body = n2.request("HEAD", path)
        assert st == 503 and body == b"", (path, st)
    for p in n2.children("memdbd: replicator"):
        os.kill(p, signal.SIGCONT)
    table = c.wait_converged(timeout=30)
    assert table["old"] == 1 and table["bulk79-199"] == 1
    assert n2.get("/api/v1/status")["cluster"]["syncing"] is False
