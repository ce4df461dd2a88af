"""HTTP/1.1 behaviour: keep-alive, pipelining, HTTP/1.0, and framing as
RFC 9112 has it: what memdb refuses rather than guess."""
import http.client
import json
import socket

from lib import Node, raw, parse_responses


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
    req = b"".join(b"POST /api/v1/upload HTTP/1.1\r\nContent-Length: 3\r\n"
                   b"\r\nab " for _ in range(100))
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
        for b in UPLOAD + te + bad:
            s.sendall(bytes([b]))
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
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
