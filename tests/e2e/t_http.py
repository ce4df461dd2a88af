"""HTTP/1.1 behaviour: keep-alive, pipelining, HTTP/1.0, HEAD, Expect, and
framing as RFC 9112 has it: what memdb refuses rather than guess."""
import http.client
import json
import socket
import time

from lib import Node, parse_responses, raw, recv_all


def test_keep_alive_reuses_the_connection():
    n = Node().start()
    c = http.client.HTTPConnection("127.0.0.1", n.port, timeout=5)
    for i in range(50):
        c.request("POST", "/api/v1/upload", body=f"k{i % 5} shared")
        r = c.getresponse()
        assert r.status == 200
        r.read()
    c.request("GET", "/api/v1/wordcount?word=shared")
    r = c.getresponse()
    assert json.loads(r.read()) == {"shared": 50}
    c.close()


def test_pipelined_requests_answered_in_order():
    n = Node().start()
    reqs = b"".join([
        b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"\r\nfirst",
        b"GET /api/v1/wordcount?word=first HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
        b"\r\nfirst again",
        b"GET /api/v1/allwords HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/v1/wordcount?word=first HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n",
    ])
    resp = parse_responses(raw(n.port, reqs))
    assert [r[0] for r in resp] == [200, 200, 404, 200, 200, 200], resp
    assert json.loads(resp[1][2]) == {"first": 1}
    assert json.loads(resp[4][2]) == {"first": 2, "again": 1}
    assert json.loads(resp[5][2]) == {"first": 2}
    assert json.loads(resp[3][2])["lsn"] == 2


def test_pipelining_across_many_small_writes():
    n = Node().start()
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    req = b"".join(b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 3\r\n\r\nab " for _ in range(100))
    for i in range(0, len(req), 7):
        s.sendall(req[i:i + 7])
    data = b""
    while data.count(b"HTTP/1.1 200") < 100:
        chunk = s.recv(65536)
        assert chunk
        data += chunk
    s.close()
    assert n.count("ab") == {"ab": 100}


def test_http10_closes_unless_keep_alive():
    n = Node().start()
    out = raw(n.port, b"GET /healthz HTTP/1.0\r\n\r\n")
    st, hdrs, _ = parse_responses(out)[0]
    assert st == 200 and hdrs.get("connection") == "close"
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    data = s.recv(4096)
    assert b"Connection: keep-alive" in data
    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    data = s.recv(4096)
    assert b" 200 " in data
    s.close()


UPLOAD = b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"


def refused(n, req, status, marker, **kw):
    """Sends req on a connection of its own: one answer, status, then the
    server closes; and marker was not counted.  Returns the answer."""
    out = parse_responses(raw(n.port, req, **kw))
    assert len(out) == 1, (req, out)
    st, hdrs, body = out[0]
    assert st == status, (req, st, body)
    assert hdrs.get("connection") == "close", (req, hdrs)
    assert json.loads(body)["status"] == status
    assert n.count(marker) == {marker: 0}, (req, marker)
    return out[0]


def chunked(te, body):
    return UPLOAD + b"Transfer-Encoding: " + te + b"\r\n\r\n" + body


def test_transfer_codings_other_than_chunked_are_501():
    n = Node().start()
    body = b"5\r\nmkT01\r\n0\r\n\r\n"
    for te in (b"gzip, chunked", b"x-memdb, chunked", b"deflate,chunked",
               b"gzip;q=1 , chunked"):
        st, _, err = refused(n, chunked(te, body.replace(b"T01", b"T02")),
                             501, "mkT02")
        assert "only chunked" in json.loads(err)["error"]
    # two fields make one list
    refused(n, UPLOAD + b"Transfer-Encoding: gzip\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + body, 501, "mkT01")
    # chunked not last (the length cannot be known), twice, with a
    # parameter, or no coding at all: 400 (RFC 9112 section 6.3)
    for te in (b"gzip", b"chunked, gzip", b"chunked, chunked",
               b"chunked;x=1", b",", b"chu nked"):
        refused(n, chunked(te, body), 400, "mkT01")
    refused(n, UPLOAD + b"Transfer-Encoding: chunked\r\n"
            b"Transfer-Encoding: gzip\r\n\r\n" + body, 400, "mkT01")
    # what is fine: chunked, in any case
    for te in (b"chunked", b"Chunked", b"CHUNKED"):
        out = parse_responses(raw(n.port, chunked(te, b"3\r\nmkT\r\n0\r\n\r\n")
                                  + b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                  b"Connection: close\r\n\r\n"))
        assert [r[0] for r in out] == [200, 200], (te, out)
    assert n.count("mkT") == {"mkT": 3}
    st, _, metrics = n.request("GET", "/metrics")
    assert b'memdb_http_requests_total{route="upload",status="501"} 5' \
        in metrics, metrics


def test_whitespace_before_the_colon_and_obs_fold_are_400():
    n = Node().start()
    refused(n, UPLOAD + b"Content-Length : 5\r\n\r\nmkW01", 400, "mkW01")
    refused(n, UPLOAD + b"Transfer-Encoding : chunked\r\n\r\n"
            b"5\r\nmkW02\r\n0\r\n\r\n", 400, "mkW02")
    refused(n, UPLOAD + b"Content-Length: 5\r\nTransfer-Encoding\t : chunked"
            b"\r\n\r\n5\r\nmkW03\r\n0\r\n\r\n", 400, "mkW03")
    # a field line folded onto the next (RFC 9112 section 5.2)
    refused(n, UPLOAD + b"Transfer-Encoding: gzip,\r\n chunked\r\n\r\n"
            b"5\r\nmkW04\r\n0\r\n\r\n", 400, "mkW04")
    refused(n, UPLOAD + b"Content-Length: 5\r\nX-A: b\r\n\tc\r\n\r\nmkW05",
            400, "mkW05")
    # a version other than "HTTP/" (the parser reads only its H)
    refused(n, b"POST /api/v1/upload HXYZ/1.1\r\nHost: x\r\n"
            b"Content-Length: 5\r\n\r\nmkW06", 400, "mkW06")


def test_chunk_data_must_be_followed_by_crlf():
    n = Node().start()
    te = b"Transfer-Encoding: chunked\r\n\r\n"
    refused(n, UPLOAD + te + b"5\r\nmkR06ZZ0\r\n\r\n", 400, "mkR06")
    st, _, err = refused(n, UPLOAD + te + b"5\r\nmkB01AB5\r\nmkB02\r\n0\r\n"
                         b"\r\n", 400, "mkB01mkB02")
    assert "CRLF" in json.loads(err)["error"]
    assert n.count("mkB01") == {"mkB01": 0}
    # the LF after the CR of a chunk-size line and of the last line
    refused(n, UPLOAD + te + b"5\rXmkR07\r\n0\r\n\r\n", 400, "mkR07")
    refused(n, UPLOAD + te + b"5\r\nmkR08\r\n0\rX\r\n", 400, "mkR08")
    refused(n, UPLOAD + te + b"5\r\nmkR09\r\n0\r\nX-T: v\r\n\rX", 400,
            "mkR09")
    # the same, a byte at a time (the check spans reads)
    for bad in (b"5\r\nmkR10\rX0\r\n\r\n", b"5\r\nmkR10X\n0\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
        try:
            for b in UPLOAD + te + bad:
                s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed at the bad byte: the rest is moot
        got = recv_all(s)
        s.close()
        (st, _, _), = parse_responses(got)
        assert st == 400, (bad, got)
    assert n.count("mkR10") == {"mkR10": 0}
    # a good chunked body a byte at a time: extensions, trailers, pipelined
    good = (UPLOAD + te + b"5;ext=1\r\nokR01\r\n2\r\n a\r\n0\r\nX-T: v\r\n"
            b"\r\n" + UPLOAD + te + b"5\r\nokR01\r\n0\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    for b in good:
        s.sendall(bytes([b]))
    got = b""
    while got.count(b"}\n") < 2:
        got += s.recv(4096)
    s.close()
    assert [r[0] for r in parse_responses(got)] == [200, 200], got
    assert n.count("okR01", "a") == {"okR01": 2, "a": 1}


def test_host_is_required_once_and_valid():
    n = Node().start()
    body = b"Content-Length: 5\r\n\r\n"
    up = b"POST /api/v1/upload HTTP/1.1\r\n"
    st, _, err = refused(n, up + body + b"mkH01", 400, "mkH01")
    assert "Host" in json.loads(err)["error"]
    refused(n, up + b"Host: a\r\nHost: a\r\n" + body + b"mkH02", 400, "mkH02")
    refused(n, b"POST /api/v1/upload HTTP/1.0\r\nHost: a\r\nHost: b\r\n"
            + body + b"mkH03", 400, "mkH03")
    for host in (b"a b", b"a/b", b"a@b", b"[::1", b"a:x", b"caf\xc3\xa9"):
        refused(n, up + b"Host: " + host + b"\r\n" + body + b"mkH04", 400,
                "mkH04")
    # fine: HTTP/1.0 without Host, an empty Host, addresses, ports
    ok = [b"POST /api/v1/upload HTTP/1.0\r\n" + body + b"okH01"]
    for host in (b"", b"[::1]:9889", b"127.0.0.1:80", b"example.com"):
        ok.append(up + b"Host: " + host + b"\r\n" + body + b"okH01")
    for req in ok:
        (st, _, _), = parse_responses(raw(n.port, req, shut=True))
        assert st == 200, (req, st)
    assert n.count("okH01") == {"okH01": 5}


def test_http10_with_transfer_encoding_is_refused_and_closed():
    n = Node().start()
    st, _, err = refused(
        n, b"POST /api/v1/upload HTTP/1.0\r\nConnection: keep-alive\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nmkE01\r\n0\r\n\r\n"
        b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 400,
        "mkE01")
    assert "HTTP/1.0" in json.loads(err)["error"]
    refused(n, b"POST /api/v1/upload HTTP/1.0\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nmkE02", 400, "mkE02")


def _recv_until(s, pred, timeout):
    s.settimeout(0.2)
    got, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline and not pred(got):
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:    # closed with our bytes unread
            break
        if not chunk:
            break
        got += chunk
    return got


def test_expect_100_continue_http10_and_refused_requests():
    n = Node().start()
    # HTTP/1.0: no 1xx; the server waits for the body
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    s.sendall(b"POST /api/v1/upload HTTP/1.0\r\nExpect: 100-continue\r\n"
              b"Content-Length: 5\r\n\r\n")
    assert _recv_until(s, bool, 0.6) == b""
    s.sendall(b"okX01")
    got = _recv_until(s, lambda g: g.endswith(b"}\n"), 5)
    s.close()
    assert b"100 Continue" not in got and b" 200 " in got, got
    assert n.count("okX01") == {"okX01": 1}
    # a path or method that is refused: the final status at once, close
    for head, status in (
            (b"POST /api/v1/nope HTTP/1.1\r\nHost: x\r\n", 404),
            (b"PUT /api/v1/upload HTTP/1.1\r\nHost: x\r\n", 405),
            (b"POST /api/v1/upload?bad=1 HTTP/1.1\r\nHost: x\r\n", 400)):
        s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
        t0 = time.monotonic()
        s.sendall(head + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        got = _recv_until(s, lambda g: g.endswith(b"}\n"), 3)
        assert time.monotonic() - t0 < 1, got
        (st, hdrs, _), = parse_responses(got)
        assert st == status and hdrs.get("connection") == "close", got
        try:
            s.sendall(b"mkX02")
        except OSError:
            pass
        assert _recv_until(s, lambda g: False, 0.5) == b""
        s.close()
    assert n.count("mkX02") == {"mkX02": 0}
    # an upload on HTTP/1.1 still gets 100 first
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    s.sendall(UPLOAD + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    assert _recv_until(s, bool, 2).startswith(b"HTTP/1.1 100 Continue\r\n")
    s.close()


GET_PATHS = ["/api/v1/wordcount?word=the", "/api/v1/wordcount",
             "/api/v1/allwords", "/api/v1/allwords?prefix=t",
             "/api/v1/top?n=2", "/api/v1/top?n=0", "/api/v1/status",
             "/healthz", "/api/v1/cluster/nodes", "/metrics",
             "/openapi.yaml", "/docs"]


def test_head_answers_as_get_without_the_body():
    n = Node().start()
    n.upload("the cat and the hat")
    for path in GET_PATHS:
        gst, ghdrs, gbody = n.request("GET", path)
        hst, hhdrs, hbody = n.request("HEAD", path)
        assert hst == gst and hbody == b"", (path, hst, hbody)
        g = {k.lower(): v for k, v in ghdrs.items() if k.lower() != "date"}
        h = {k.lower(): v for k, v in hhdrs.items() if k.lower() != "date"}
        if path == "/metrics":       # the counters moved in between
            g.pop("content-length")
            h.pop("content-length")
        assert g == h, (path, g, h)
        if "content-length" in g:
            assert int(h["content-length"]) == len(gbody), path
    assert "transfer-encoding" in {
        k.lower() for k in n.request("HEAD", "/api/v1/allwords")[1]}
    # on one connection: the answer to HEAD ends at its blank line
    reqs = [b"HEAD /api/v1/allwords HTTP/1.1\r\nHost: x\r\n\r\n",
            b"HEAD /api/v1/top HTTP/1.1\r\nHost: x\r\n\r\n",
            b"HEAD /api/v1/upload HTTP/1.1\r\nHost: x\r\n\r\n",
            b"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /api/v1/wordcount?word=hat HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n\r\n"]
    got = raw(n.port, b"".join(reqs))
    out = parse_responses(got, ["HEAD"] * 4 + ["GET"])
    assert [r[0] for r in out] == [200, 200, 405, 404, 200], got
    assert out[2][1]["allow"] == "POST" and out[3][2] == b""
    assert json.loads(out[4][2]) == {"hat": 1}, got
    # HTTP/1.0: as GET, closed at the end, and nothing after the head
    got = raw(n.port, b"HEAD /api/v1/allwords HTTP/1.0\r\n\r\n")
    assert got.endswith(b"Connection: close\r\n\r\n"), got
    # a wrong method on a GET path names both
    st, hdrs, _ = n.request("DELETE", "/healthz")
    assert st == 405 and hdrs["Allow"] == "GET, HEAD"
