"""The daemon as a set of processes: command line, configuration errors,
supervision, signals, and a worker killed during concurrent uploads."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from lib import MEMDBD, Node, tempdir, SRCDIR


def run(*args, timeout=10):
    return subprocess.run([MEMDBD, *args], capture_output=True, text=True,
                          timeout=timeout)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0 and "--check-config" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and re.match(r"memdbd \d+\.\d+\.\d+", r.stdout)
    r = run("--bogus")
    assert r.returncode == 2


def test_shipped_config_checks_ok():
    r = run("-c", os.path.join(SRCDIR, "etc", "memdb.yaml"),
            "--check-config")
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout


def test_bad_config_exits_2_with_position():
    d = tempdir()
    cases = [
        ("http:\n  listen: 127.0.0.1:99999\n", "2:11", "listen"),
        ("http:\n  workers: two\n", "2:12", "integer"),
        ("node:\n  id: n1\n  colour: red\n", "3:3", "unknown key"),
        ("nodes:\n  id: n1\n", "1:1", "unknown section"),
        ("http:\n  max_body: 12XB\n", "2:13", "size"),
        ("log:\n  level: loud\n", "2:10", "level"),
        ("http:\n  listen: [a, b]\n", "2:11", "list"),
        ("http: [\n", "2:1", "YAML"),
    ]
    for text, pos, word in cases:
        p = os.path.join(d, "bad.yaml")
        with open(p, "w") as f:
            f.write(text)
        r = run("-c", p, "--check-config")
        assert r.returncode == 2, (text, r.returncode)
        assert r.stderr.startswith(f"{p}:{pos}: "), (text, r.stderr)
        assert word in r.stderr, (text, r.stderr)
        # and the daemon itself refuses to start, without retrying
        r = run("-c", p)
        assert r.returncode == 2 and r.stderr.startswith(f"{p}:{pos}: ")


def test_ps_shows_master_and_workers():
    n = Node(workers=3).start()
    with open(f"/proc/{n.pid}/cmdline", "rb") as f:
        assert f.read().startswith(b"memdbd: master")
    assert len(n.children()) == 3


def test_dead_worker_is_replaced():
    n = Node(workers=2).start()
    w = n.children()
    os.kill(w[0], signal.SIGKILL)
    n.wait_for(lambda: len(n.children()) == 2 and n.children() != w,
               what="worker restart")
    assert n.upload("after restart")["words"] == 2
    assert "killed by signal 9" in n.log()


def test_sigterm_finishes_requests_in_progress():
    n = Node().start()
    s = socket.create_connection(("127.0.0.1", n.port), timeout=10)
    s.sendall(b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 11\r\n\r\n"
              b"half")
    time.sleep(0.3)
    n.signal(signal.SIGTERM)
    time.sleep(0.3)
    assert n.proc.poll() is None, "exited with a request in progress"
    s.sendall(b" a body")
    data = s.recv(4096)
    assert b" 200 " in data.split(b"\r\n")[0], data
    assert b"Connection: close" in data
    s.close()
    assert n.proc.wait(timeout=20) == 0
    # new connections are refused once it is gone
    try:
        socket.create_connection(("127.0.0.1", n.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    assert refused


def test_sighup_reopens_the_activity_log():
    n = Node().start()
    act = n.cfg["log"]["activity"]
    n.count("x")
    n.wait_for(lambda: os.path.exists(act) and os.path.getsize(act) > 0,
               what="activity log")
    os.rename(act, act + ".1")
    n.signal(signal.SIGHUP)
    n.wait_for(lambda: os.path.exists(act), what="new activity log")
    time.sleep(0.3)
    n.count("y")
    n.wait_for(lambda: "/api/v1/wordcount" in open(act).read(),
               what="line in the new log")
    assert n.proc.poll() is None


def _uploader(port, stop, ledger, tag):
    """Uploads 'mTAG-i c1 c2 c1' until stop; records acked and attempted."""
    i = 0
    while not stop.is_set():
        marker = f"m{tag}-{i}"
        body = f"{marker} c1 c2 c1"
        ledger["attempted"].append(marker)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("POST", "/api/v1/upload", body=body)
            r = c.getresponse()
            r.read()
            if r.status == 200:
                ledger["acked"].append(marker)
            c.close()
        except (OSError, http.client.HTTPException):
            pass
        i += 1


def test_kill9_worker_during_concurrent_uploads():
    n = Node(workers=2).start()
    stop = threading.Event()
    ledgers = [{"attempted": [], "acked": []} for _ in range(4)]
    threads = [threading.Thread(target=_uploader,
                                args=(n.port, stop, ledgers[t], t))
               for t in range(4)]
    for t in threads:
        t.start()
    kills = 0
    for _ in range(6):
        time.sleep(0.25)
        ws = n.children()
        if ws:
            os.kill(ws[kills % len(ws)], signal.SIGKILL)
            kills += 1
        n.wait_for(lambda: len(n.children()) == 2, what="respawn")
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert n.get("/healthz") == {"status": "ok"}
    acked = [m for l in ledgers for m in l["acked"]]
    attempted = [m for l in ledgers for m in l["attempted"]]
    assert len(acked) > 100, len(acked)
    aw = n.allwords()
    # every upload is all or nothing: its marker is there iff it applied
    applied = [k for k in aw if k.startswith("m")]
    assert all(aw[m] == 1 for m in applied)
    assert set(acked) <= set(applied) <= set(attempted)
    assert aw["c1"] == 2 * len(applied), (aw["c1"], len(applied))
    assert aw["c2"] == len(applied)
    assert kills >= 6
