"""Running under systemd: socket activation (systemd-socket-activate) and
the sd_notify protocol (READY, STATUS, EXTEND_TIMEOUT_USEC, WATCHDOG,
RELOADING, STOPPING), checked on a datagram socket the test owns."""
import os
import shutil
import signal
import socket
import subprocess
import time

from lib import MEMDBD, Node, free_port, tempdir, wait_group_gone


class NotifySocket:
    def __init__(self):
        self.path = os.path.join(tempdir(), "notify.sock")
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(self.path)
        self.s.settimeout(0.1)
        self.msgs = []          # (time, message)

    def poll(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.s.recv(4096)
            except socket.timeout:
                continue
            self.msgs.append((time.monotonic(), data.decode()))

    def wait_for(self, text, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for t, m in self.msgs:
                if text in m:
                    return t
            self.poll(0.1)
        raise AssertionError(f"no {text!r} in {self.msgs}")


def start_notified(node, env_extra):
    from lib import write_config
    write_config(node.cfg_path, node.cfg)
    node.logf = open(node.log_path, "ab")
    env = dict(os.environ, **env_extra)
    node.proc = subprocess.Popen([MEMDBD, "-c", node.cfg_path],
                                 stdout=node.logf, stderr=node.logf,
                                 start_new_session=True, env=env)
    return node


def test_notify_protocol():
    # data to recover, so that recovery takes a moment
    n = Node()
    n.start()
    for i in range(30):
        n.upload(" ".join(f"r{i}-{j}" for j in range(2000)))
    n.stop()
    ns = NotifySocket()
    start_notified(n, {"NOTIFY_SOCKET": ns.path,
                       "WATCHDOG_USEC": "600000"})
    t_ready = ns.wait_for("READY=1")
    # READY only after recovery and with every worker serving
    assert n.get("/healthz") == {"status": "ok"}
    assert n.get("/api/v1/status")["distinct"] == 60000
    t_ext = ns.wait_for("EXTEND_TIMEOUT_USEC=")
    t_status = ns.wait_for("STATUS=recovering")
    assert t_ext <= t_ready and t_status <= t_ready
    ns.poll(1.5)
    status = [m for _, m in ns.msgs if m.startswith("STATUS=standalone")]
    assert status and "lsn 30" in status[-1] and "60000 distinct" in \
        status[-1], ns.msgs
    pings = [t for t, m in ns.msgs if "WATCHDOG=1" in m]
    assert len(pings) >= 4, ns.msgs           # every 200 ms
    n.signal(signal.SIGHUP)
    t_rel = ns.wait_for("RELOADING=1")
    ns.poll(0.5)
    readies = [t for t, m in ns.msgs if m == "READY=1" and t > t_rel]
    assert readies, ns.msgs
    n.signal(signal.SIGTERM)
    ns.wait_for("STOPPING=1")
    assert n.proc.wait(timeout=20) == 0


def test_no_watchdog_ping_when_a_worker_hangs():
    n = Node(workers=1)
    ns = NotifySocket()
    start_notified(n, {"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "600000"})
    ns.wait_for("READY=1")
    n.wait_ready()
    time.sleep(0.7)                    # past the first watchdog interval
    w = n.children()[0]
    os.kill(w, signal.SIGSTOP)
    ns.poll(0.5)
    ns.msgs.clear()
    ns.poll(1.5)
    try:
        assert not any("WATCHDOG=1" in m for _, m in ns.msgs), ns.msgs
        assert "has not run its loop" in n.log()
    finally:
        os.kill(w, signal.SIGCONT)
    ns.msgs.clear()
    ns.poll(1.0)
    assert any("WATCHDOG=1" in m for _, m in ns.msgs)


def test_socket_activation():
    if shutil.which("systemd-socket-activate") is None:
        raise AssertionError("systemd-socket-activate is missing "
                             "(Debian package systemd)")
    n = Node()
    port = free_port()
    n.cfg["http"]["listen"] = "127.0.0.1:1"     # not used: systemd's wins
    n.port = port
    from lib import write_config
    write_config(n.cfg_path, n.cfg)
    n.logf = open(n.log_path, "ab")
    n.proc = subprocess.Popen(["systemd-socket-activate", "-l",
                               f"127.0.0.1:{port}", MEMDBD, "-c",
                               n.cfg_path], stdout=n.logf, stderr=n.logf,
                              start_new_session=True)
    n.wait_ready()
    assert n.upload("through the passed socket")["words"] == 4
    assert "socket passed by systemd" in n.log()
    assert f"listening on 127.0.0.1:{port}" in n.log()
    n.stop()


def test_journald_priority_prefixes():
    n = Node()
    start_notified(n, {"JOURNAL_STREAM": "8:12345"})
    n.wait_ready()
    n.stop()
    lines = [l for l in n.log().splitlines() if l.strip()]
    assert lines and all(l.startswith("<") for l in lines), lines[:3]
    assert any(l.startswith("<6>") and "INFO" in l for l in lines)
    assert "\033[" not in n.log()            # no colors for the journal
