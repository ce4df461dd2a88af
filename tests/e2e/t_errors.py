"""Bad input gets a clear JSON error and changes nothing."""
import json
import socket
import time

from lib import Node, raw, parse_responses


def one(n, data, **kw):
    out = parse_responses(raw(n.port, data, **kw))
    assert len(out) == 1, out
    return out[0]


def test_invalid_utf8_rejected_whole_with_offset():
    n = Node().start()
    n.upload("keep")
    cases = [(b"good words \xff here", 11), (b"\xc0\xaf", 0),
             (b"ab \xed\xa0\x80", 3), (b"x \xf4\x90\x80\x80", 2),
             (b"abc \xe2\x82", 4), (b"\x80", 0), (b"ok \xf0\x9f\x98", 3)]
    for body, off in cases:
        st, _, data = n.request("POST", "/api/v1/upload", body)
        assert st == 400, (body, st)
        err = json.loads(data)
        assert err["offset"] == off, (body, err)
        assert "UTF-8" in err["error"]
    assert n.allwords() == {"keep": 1}
    assert n.get("/api/v1/status")["lsn"] == 1


def test_invalid_utf8_split_across_chunks():
    n = Node().start()
    req = (b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n"
           b"3\r\nab\xe2\r\n3\r\n\x82zz\r\n0\r\n\r\n")
    st, _, body = one(n, req)
    assert st == 400 and json.loads(body)["offset"] == 2
    assert n.allwords() == {}


def test_body_too_large():
    n = Node(http={"max_body": "1KiB"}).start()
    st, _, body = n.request("POST", "/api/v1/upload", b"a " * 600)
    assert st == 413, st
    assert json.loads(body)["limit"] == 1024
    # chunked: the limit is found while reading
    req = (b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" +
           b"".join(b"100\r\n" + b"x " * 128 + b"\r\n" for _ in range(5)) +
           b"0\r\n\r\n")
    st, hdrs, _ = one(n, req)
    assert st == 413 and hdrs.get("connection") == "close"
    assert n.allwords() == {}
    assert n.upload("a " * 500)["words"] == 500


def test_unknown_path_and_wrong_method():
    n = Node().start()
    st, _, body = n.request("GET", "/api/v2/upload")
    assert st == 404 and json.loads(body)["error"]
    st, hdrs, body = n.request("GET", "/api/v1/upload")
    assert st == 405 and hdrs["Allow"] == "POST"
    st, hdrs, _ = n.request("DELETE", "/api/v1/wordcount?word=x")
    assert st == 405 and hdrs["Allow"] == "GET, HEAD"
    st, _, _ = n.request("POST", "/api/v1/status", b"x")
    assert st == 405


def test_malformed_http_gets_400_and_close():
    n = Node().start()
    out = raw(n.port, b"GET / HTTP/9.9\r\n\r\n")
    assert parse_responses(out)[0][0] == 505, out
    for junk in [b"HELLO\r\n\r\n", b"GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
                 b"POST /api/v1/upload HTTP/1.1\r\nContent-Length: 5\r\n"
                 b"Content-Length: 6\r\n\r\nhello"]:
        out = raw(n.port, junk)
        resp = parse_responses(out)
        assert resp and resp[0][0] == 400, (junk, out)
        assert resp[0][1].get("connection") == "close"
    assert n.allwords() == {}


def test_upload_refused_before_its_body_gets_one_answer():
    n = Node().start()
    out = parse_responses(raw(
        n.port, b"POST /api/v1/upload?bad=1 HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 5\r\n\r\nmkO01"
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert [r[0] for r in out] == [400], out
    assert out[0][1].get("connection") == "close"
    assert "bad" in json.loads(out[0][2])["error"]
    assert n.count("mkO01") == {"mkO01": 0}


def test_headers_too_large():
    n = Node(http={"max_header": "2KiB"}).start()
    req = (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 4000 + b"\r\n\r\n")
    st, hdrs, body = one(n, req)
    assert st == 431 and hdrs.get("connection") == "close"
    assert json.loads(body)["limit"] == 2048


def test_slow_headers_and_slow_body_are_cut_off():
    n = Node(http={"header_timeout": "700ms", "body_timeout": "700ms"}).start()
    s = socket.create_connection(("127.0.0.1", n.port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")   # never finished
    t0 = time.monotonic()
    s.settimeout(10)
    data = s.recv(4096)
    assert b" 408 " in data.split(b"\r\n")[0], data
    assert s.recv(4096) == b""              # closed
    assert time.monotonic() - t0 < 5
    s.close()
    s = socket.create_connection(("127.0.0.1", n.port))
    s.sendall(b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 100\r\n\r\npartial body")
    s.settimeout(10)
    data = s.recv(4096)
    assert b" 408 " in data.split(b"\r\n")[0], data
    s.close()
    assert n.allwords() == {}


def test_store_full_gives_507_and_reads_keep_working():
    n = Node(store={"max_memory": "16MiB"}, workers=1).start()
    i = 0
    rejected = None
    while i < 2000000:
        body = " ".join(f"long-word-number-{j}" for j in range(i, i + 20000))
        st, _, data = n.request("POST", "/api/v1/upload", body.encode())
        if st == 507:
            rejected = i
            break
        assert st == 200, (st, data)
        i += 20000
    assert rejected is not None, "store never filled"
    err = json.loads(data)
    assert err["limit"] == 16 << 20
    # nothing of the rejected upload was applied
    assert n.count(f"long-word-number-{rejected}")[
        f"long-word-number-{rejected}"] == 0
    assert n.count("long-word-number-0")["long-word-number-0"] == 1
    st_before = n.get("/api/v1/status")
    assert st_before["distinct"] == rejected
    # a table's upload of new words is refused the same way
    st, _, data = n.request("POST", "/api/v1/tables/default/upload",
                            body.encode())
    assert st == 507, (st, data)
    # counting known words needs no new memory
    assert n.upload("long-word-number-0")["words"] == 1
    assert n.count("long-word-number-0")["long-word-number-0"] == 2


def test_expect_100_continue():
    n = Node().start()
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    s.sendall(b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 9\r\nExpect: 100-continue\r\n\r\n")
    first = s.recv(4096)
    assert first.startswith(b"HTTP/1.1 100 Continue"), first
    s.sendall(b"cont inue")
    rest = b""
    while b"}" not in rest:
        rest += s.recv(4096)
    assert b" 200 " in rest
    s.close()
    assert n.count("cont", "inue") == {"cont": 1, "inue": 1}
    out = raw(n.port, b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 1\r\nExpect: something\r\n\r\nx")
    assert parse_responses(out)[0][0] == 417


def _trickle(n, head, body, every):
    """Sends head, then body a byte every `every` seconds until the server
    answers; returns (seconds from the end of head to the answer, answer,
    whether it closed)."""
    s = socket.create_connection(("127.0.0.1", n.port), timeout=10)
    s.sendall(head)
    t0 = time.monotonic()
    s.settimeout(every)
    got, i = b"", 0
    while time.monotonic() - t0 < 10:
        try:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
            continue
        except socket.timeout:
            pass
        except ConnectionResetError:    # closed with our bytes unread
            break
        if got:
            continue
        if i < len(body):
            try:
                s.sendall(body[i:i + 1])
            except OSError:
                break
            i += 1
    dt = time.monotonic() - t0
    s.close()
    return dt, got


def test_body_and_head_deadlines_are_totals():
    """http.body_timeout bounds the whole body from the end of the head,
    however often bytes arrive; http.header_timeout the whole head."""
    n = Node(http={"header_timeout": "1500ms",
                   "body_timeout": "1500ms"}).start()
    body = b"mkD01 " + b"x" * 200
    head = (b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    dt, got = _trickle(n, head, body, 0.3)      # 0.3 s < body_timeout
    (st, hdrs, err), = parse_responses(got)
    assert st == 408 and "body" in json.loads(err)["error"], got
    assert 1.3 < dt < 2.5, dt
    assert hdrs.get("connection") == "close"
    # the same with a chunked body
    chunks = b"".join(b"1\r\n" + bytes([c]) + b"\r\n" for c in body)
    dt, got = _trickle(n, b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n", chunks, 0.1)
    (st, _, _), = parse_responses(got)
    assert st == 408 and 1.3 < dt < 2.5, (dt, got)
    # a head trickled in: 408 once header_timeout has passed since its
    # first byte
    req = b"GET /api/v1/wordcount?word=mkD01 HTTP/1.1\r\nHost: x\r\n" + \
        b"".join(b"X-%d: y\r\n" % i for i in range(100))
    dt, got = _trickle(n, req[:1], req[1:], 0.1)
    (st, _, err), = parse_responses(got)
    assert st == 408 and "headers" in json.loads(err)["error"], got
    assert 1.3 < dt < 2.5, dt
    assert n.count("mkD01") == {"mkD01": 0}


def test_chunk_size_over_max_body_is_413_at_once():
    n = Node(http={"max_body": "1KiB", "body_timeout": "5s"}).start()
    for size in (b"401", b"fffffffff", b"ffffffffffffffff",
                 b"fffffffffffffffffffffffff", b"0000000000000000000401"):
        t0 = time.monotonic()
        st, hdrs, body = one(n, b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n" + size +
                             b"\r\nmkZ01 ")
        assert st == 413 and time.monotonic() - t0 < 2, (size, st, body)
        err = json.loads(body)
        assert err["limit"] == 1024 and "content-length" not in err["error"]
        assert hdrs.get("connection") == "close"
    # the sum counts: 0x200 + 0x201 is over 1 KiB before the second's data
    st, _, _ = one(n, b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n200\r\n" + b"a" * 512 +
                   b"\r\n201\r\nmkZ01 ")
    assert st == 413
    assert n.count("mkZ01") == {"mkZ01": 0}
    # exactly max_body is fine
    st, _, _ = one(n, b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                   b"400\r\n" + b"b" * 1024 + b"\r\n0\r\n\r\n")
    assert st == 200
