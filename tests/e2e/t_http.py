"""HTTP/1.1 behaviour: keep-alive, pipelining, HTTP/1.0."""
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
