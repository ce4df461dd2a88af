"""Admin authentication (admin.token_file) and GET /metrics."""
import os
import re

from lib import Node, tempdir


def test_admin_endpoints_need_the_token():
    d = tempdir()
    tok = os.path.join(d, "token")
    with open(tok, "w") as f:
        f.write("s3cret-token-0123456789\n")
    n = Node(admin={"token_file": tok}).start()
    n.upload("words are open")
    for hdrs in ({}, {"Authorization": "Bearer wrong-token-000000000"},
                 {"Authorization": "Basic s3cret-token-0123456789"},
                 {"Authorization": "Bearer s3cret-token-01234567890"}):
        st, h, body = n.request("POST", "/api/v1/admin/snapshot",
                                headers=hdrs)
        assert st == 401, (hdrs, st, body)
        assert h.get("WWW-Authenticate", "").startswith("Bearer")
    assert n.get("/api/v1/status")["persistence"]["snapshot_lsn"] == 0
    st, _, _ = n.request("POST", "/api/v1/admin/snapshot", headers={
        "Authorization": "Bearer s3cret-token-0123456789"})
    assert st == 200
    assert n.get("/api/v1/status")["persistence"]["snapshot_lsn"] == 1
    # reads and uploads need no token
    assert n.count("open") == {"open": 1}


def test_bad_token_file_is_a_config_error():
    import subprocess
    from lib import MEMDBD
    d = tempdir()
    tok = os.path.join(d, "short")
    with open(tok, "w") as f:
        f.write("short\n")
    cfg = os.path.join(d, "c.yaml")
    with open(cfg, "w") as f:
        f.write(f"admin:\n  token_file: {tok}\n")
    r = subprocess.run([MEMDBD, "-c", cfg, "--check-config"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "at least 16" in r.stderr


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(\{[^}]*\})? (\S+)$', line)
        assert m, f"bad metrics line: {line!r}"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def test_metrics_prometheus_text():
    n = Node().start()
    n.upload("a b c a")
    n.count("a")
    n.request("GET", "/nope")
    st, hdrs, body = n.request("GET", "/metrics")
    assert st == 200
    assert hdrs["Content-Type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            assert line.split()[3] in ("counter", "gauge", "histogram")
    m = parse_metrics(text)
    assert m['memdb_http_requests_total{route="upload",status="200"}'] == 1
    assert m['memdb_http_requests_total{route="wordcount",status="200"}'] == 1
    assert m['memdb_http_requests_total{route="none",status="404"}'] == 1
    assert m['memdb_http_request_duration_seconds_count{route="upload"}'] == 1
    assert m['memdb_http_request_duration_seconds_bucket{route="upload",'
             'le="+Inf"}'] == 1
    assert m["memdb_words"] == 4 and m["memdb_distinct_words"] == 3
    assert m['memdb_lsn{kind="last"}'] == 1
    assert m['memdb_role{role="standalone"}'] == 1
    assert m["memdb_memory_limit_bytes"] == 256 << 20
