"""Cluster authentication (cluster.secret_file): restarts, replays and
connections that never authenticate.

- A restarted node (or replicator) is a new boot: its peers take its
  messages at once and keep refusing the old boot's.
- A recorded handshake replayed to a replica or a leader is refused, and
  counted.
- Idle or hostile connections to the replication port, before they
  authenticate, neither lock replicas out nor cost the daemon memory.
"""
import hashlib
import hmac
import os
import signal
import socket
import struct
import threading
import time

from lib import Cluster, Node, free_port, tempdir

SECRET = b"correct horse battery staple"
KEY = hashlib.blake2b(SECRET, digest_size=32).digest()  # auth_load

# ---- the protocol, spoken with the secret (replicator/README) ----------

GSP_MAGIC, GSP_VERSION = 0x5053474D, 2
GSP_PING, GSP_ACK = 1, 2
FRAME_MAGIC, FRAME_VERSION = 0x5045524D, 3
FR_CHALLENGE, FR_HELLO, FR_WELCOME, FR_ACK = 1, 2, 3, 8
ROLE_LEADER, ROLE_REPLICA = 1, 2


def mac(key, data):
    """crypto_auth: HMAC-SHA-512 truncated to 256 bits."""
    return hmac.new(key, data, hashlib.sha512).digest()[:32]


def frame_key(tag, nonce_l, nonce_r=b""):
    """auth_session: keyed BLAKE2b-256 of tag, nonce_l, nonce_r."""
    return hashlib.blake2b(tag + nonce_l + nonce_r, key=KEY,
                           digest_size=32).digest()


def member_rec(nid, gossip, repl="", http="", role=ROLE_REPLICA, epoch=0,
               inc=1):
    return struct.pack("<64s48s48s48sBBHIQQQ", nid.encode(), gossip.encode(),
                       repl.encode(), http.encode(), role, 0, 0, 0, epoch, 0,
                       inc)


def datagram(mtype, sender, boot, msg_id, seq=0, version=GSP_VERSION):
    """A gossip datagram without body or updates, with its MAC."""
    n = 40 + len(sender) + 32
    hdr = struct.pack("<IBBHIBBHQQQ", GSP_MAGIC, version, mtype, n, seq, 0,
                      1, 0, int(time.time() * 1000), boot, msg_id)
    return hdr + sender + mac(KEY, hdr + sender)


def frame(ftype, payload, counter, key, version=FRAME_VERSION):
    hdr = struct.pack("<IBBHIIQ", FRAME_MAGIC, version, ftype, 1,
                      len(payload), 0, counter)
    return hdr + payload + mac(key, hdr + payload)


def read_frame(sock, timeout=3):
    """(raw bytes, type, payload) of the next frame; None at EOF."""
    sock.settimeout(timeout)
    data = b""
    while len(data) < 24 or len(data) < 24 + struct.unpack_from(
            "<I", data, 8)[0] + 32:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    n = 24 + struct.unpack_from("<I", data, 8)[0] + 32
    assert len(data) == n, "one frame at a time"
    return data, data[5], data[24:n - 32]


def hello(nid, nonce, nonce_l):
    """A HELLO from nid at LSN 0, as a replica answers a CHALLENGE."""
    p = struct.pack("<64s32sQQII", nid.encode(), nonce, 0, 0, 0, 0)
    return frame(FR_HELLO, p, 1, frame_key(b"H", nonce_l))


def counters(node):
    c = node.get("/api/v1/status")["cluster"]
    return c["auth_bad"], c["repl_bad"], c["gossip_bad"]


def secret_file():
    p = os.path.join(tempdir(), "secret")
    with open(p, "wb") as f:
        f.write(SECRET + b"\n")
    return p


def member(viewer, nid):
    """(state, incarnation) of member nid as viewer sees it."""
    for m in viewer.get("/api/v1/cluster/nodes")["nodes"]:
        if m["id"] == nid:
            return m["state"], m["incarnation"]
    return None, 0


def auth_bad(nodes):
    return sum(n.get("/api/v1/status")["cluster"]["auth_bad"] for n in nodes)


def boot_of(node):
    """The boot number in node's cluster state file."""
    with open(os.path.join(node.data, "cluster", "state")) as f:
        for line in f:
            if line.startswith("boot "):
                return int(line.split()[1])
    raise AssertionError("no boot in the state file")


def send_udp(port, data):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(data, ("127.0.0.1", port))
    s.close()


def seconds_until_alive(node, peers, t0, inc=0, timeout=30):
    """Seconds from t0 until every peer lists node alive with an
    incarnation of at least inc."""
    def alive():
        for p in peers:
            st, i = member(p, node.id)
            if st != "alive" or i < inc:
                return False
        return True
    node.wait_for(alive, timeout=timeout, what=f"{node.id} alive again")
    return time.monotonic() - t0


def test_restarted_node_is_alive_again_at_once():
    c = Cluster(3, cluster={"secret_file": secret_file()})
    n3, peers = c.nodes[2], c.nodes[:2]
    time.sleep(8)               # the old boot's message ids run up meanwhile
    old_boot = boot_of(n3)
    n3.stop()
    n3.wait_for(lambda: all(member(p, "n3")[0] == "dead" for p in peers),
                what="n3 dead at its peers")
    bad0 = auth_bad(peers)
    t0 = time.monotonic()
    n3.start()
    dt = seconds_until_alive(n3, peers, t0)
    bad = auth_bad(peers) - bad0
    print(f"# n3 alive again at both peers {dt:.2f}s after its restart; "
          f"{bad} datagrams failed authentication meanwhile")
    assert dt < 3, f"n3 was alive again only after {dt:.2f}s"
    assert bad <= 3, f"{bad} authentication failures"
    assert boot_of(n3) > old_boot
    assert "member n3 restarted" in c.nodes[0].log()

    # a datagram of the old boot (recorded, or late) stays refused
    n1 = c.nodes[0]
    a0 = counters(n1)[0]
    rec = member_rec("n3", f"127.0.0.1:{n3.gport}", f"127.0.0.1:{n3.rport}",
                     f"127.0.0.1:{n3.port}", ROLE_LEADER, 99)
    send_udp(n1.gport, datagram(GSP_PING, rec, old_boot, 10 ** 9))
    n1.wait_for(lambda: counters(n1)[0] > a0,
                what="the old boot's datagram refused")
    assert member(n1, "n3")[0] == "alive"
    assert c.view(n1)["leader"] == "n1"


def test_restarted_replicator_is_alive_again_at_once():
    c = Cluster(3, cluster={"secret_file": secret_file()})
    n3, peers = c.nodes[2], c.nodes[:2]
    time.sleep(8)
    _, inc0 = member(n3, "n3")
    bad0 = auth_bad(peers)
    pid = n3.children("memdbd: replicator")[0]
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    # the master starts another; it has a new incarnation
    inc = n3.wait_for(lambda: member(n3, "n3")[1] > inc0 and
                      member(n3, "n3")[1], what="a new replicator")
    dt = seconds_until_alive(n3, peers, t0, inc)
    bad = auth_bad(peers) - bad0
    print(f"# n3's new replicator alive at both peers {dt:.2f}s after "
          f"kill -9 of the old one; {bad} authentication failures")
    assert dt < 3, f"n3 was alive again only after {dt:.2f}s"
    assert bad <= 3, f"{bad} authentication failures"


# ---- replayed handshakes ----------------------------------------------


def record_handshake(leader):
    """Plays a replica (with the secret) to leader: returns the CHALLENGE
    and WELCOME it sent, as bytes, and the HELLO we sent."""
    s = socket.create_connection(("127.0.0.1", leader.rport), timeout=3)
    try:
        challenge, t, nonce_l = read_frame(s)
        assert t == FR_CHALLENGE
        nonce_r = os.urandom(32)
        hello_raw = hello("fake", nonce_r, nonce_l)
        s.sendall(hello_raw)
        welcome, t, _ = read_frame(s)
        assert t == FR_WELCOME, t
        # the WELCOME is under the key of both nonces
        assert welcome[-32:] == mac(frame_key(b"L", nonce_l, nonce_r),
                                    welcome[:-32])
        return challenge, welcome, hello_raw
    finally:
        s.close()


class FakeLeader:
    """Claims, over gossip with the secret, to lead epoch 1 as "f1"; each
    replica that connects to its replication port gets the recorded
    CHALLENGE and, after its HELLO, the recorded WELCOME.  replies lists,
    per connection, the frame types the replica sent after the WELCOME
    (None for EOF: the replica hung up)."""

    def __init__(self, challenge, welcome):
        self.challenge, self.welcome = challenge, welcome
        self.gport, self.rport = free_port(), free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.gport))
        self.udp.settimeout(0.1)
        self.tcp = socket.create_server(("127.0.0.1", self.rport))
        self.tcp.settimeout(0.1)
        self.rec = member_rec("f1", f"127.0.0.1:{self.gport}",
                              f"127.0.0.1:{self.rport}",
                              f"127.0.0.1:{free_port()}", ROLE_LEADER, 1)
        self.msg_id = 0
        self.replies = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self.gossip, self.serve)]
        for t in self.threads:
            t.start()

    def gossip(self):
        while not self.stop.is_set():
            try:
                data, addr = self.udp.recvfrom(2048)
            except socket.timeout:
                continue
            seq = struct.unpack_from("<I", data, 8)[0]
            self.msg_id += 1
            self.udp.sendto(datagram(GSP_ACK, self.rec, 1, self.msg_id, seq),
                            addr)

    def serve(self):
        while not self.stop.is_set():
            try:
                c, _ = self.tcp.accept()
            except socket.timeout:
                continue
            got = []
            self.replies.append(got)
            try:
                c.sendall(self.challenge)
                if read_frame(c) is None:
                    got.append(None)
                    continue
                c.sendall(self.welcome)
                while len(got) < 3:
                    f = read_frame(c, timeout=2)
                    got.append(f and f[1])
                    if f is None:
                        break
            except OSError:
                got.append(None)
            finally:
                c.close()

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        self.udp.close()
        self.tcp.close()


def test_replayed_handshake_is_refused_and_counted():
    secret = secret_file()
    leader = Cluster(1, cluster={"secret_file": secret}).nodes[0]
    challenge, welcome, hello_raw = record_handshake(leader)

    # to the leader: a recorded HELLO answers no fresh CHALLENGE
    a0, r0, _ = counters(leader)
    s = socket.create_connection(("127.0.0.1", leader.rport), timeout=3)
    assert read_frame(s)[1] == FR_CHALLENGE
    s.sendall(hello_raw)
    assert read_frame(s) is None, "the leader took a replayed HELLO"
    s.close()
    a1, r1, _ = counters(leader)
    assert a1 == a0 + 1 and r1 == r0 + 1, (a0, a1, r0, r1)

    # to a replica: the recorded CHALLENGE and WELCOME, from a fake leader
    fake = FakeLeader(challenge, welcome)
    try:
        n2 = Node("n2", workers=1)
        n2.cfg["cluster"] = {
            "gossip": f"127.0.0.1:{free_port()}",
            "replication": f"127.0.0.1:{free_port()}",
            "probe_interval": "100ms", "probe_timeout": "50ms",
            "seeds": [f"127.0.0.1:{fake.gport}"], "secret_file": secret}
        n2.start()
        n2.wait_for(lambda: fake.replies and fake.replies[0],
                    what="n2 to take or refuse the replayed WELCOME")
    finally:
        fake.close()
    got = fake.replies[0]
    auth, repl, _ = counters(n2)
    print(f"# after the replayed WELCOME n2 sent {got}; its auth_bad is "
          f"{auth}, repl_bad {repl}")
    assert got == [None], f"n2 took the replayed WELCOME: it sent {got}"
    assert auth >= 1 and repl >= 1, (auth, repl)
    assert "following f1" not in n2.log()
    assert "frame failed authentication" in n2.log()


def test_other_versions_are_refused_and_counted():
    c = Cluster(1, cluster={"secret_file": secret_file()})
    n1 = c.nodes[0]
    _, r0, g0 = counters(n1)
    rec = member_rec("n9", "127.0.0.1:9")
    # refused for its version byte, before its size is looked at
    send_udp(n1.gport, datagram(GSP_PING, rec, 1, 1, version=1))
    n1.wait_for(lambda: counters(n1)[2] == g0 + 1, what="gossip_bad")
    s = socket.create_connection(("127.0.0.1", n1.rport), timeout=3)
    assert read_frame(s)[1] == FR_CHALLENGE
    s.sendall(frame(FR_HELLO, bytes(120), 1, KEY, version=1))
    assert read_frame(s) is None
    s.close()
    n1.wait_for(lambda: counters(n1)[1] == r0 + 1, what="repl_bad")
    log = n1.log()
    assert "gossip datagram of version 1" in log
    assert f"frame version 1, this node speaks {FRAME_VERSION}" in log


# ---- connections that never authenticate ------------------------------


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


class Flood:
    """n connections to port that never authenticate, from source: a
    quarter idle, a quarter sending a byte every 0.2 s, a half the header
    of a 64 MiB HELLO and then 1 MiB of it."""

    def __init__(self, port, n, source="127.0.0.1"):
        big = struct.pack("<IBBHIIQ", FRAME_MAGIC, FRAME_VERSION, FR_HELLO,
                          1, (64 << 20) - 1, 0, 1) + b"\x00" * (1 << 20)
        self.socks, self.trickle = [], []
        for i in range(n):
            s = socket.socket()
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
            self.socks.append(s)
            if i % 4 == 1:
                self.trickle.append(s)
            elif i % 4 >= 2:
                s.settimeout(1)
                try:
                    s.recv(88)      # the CHALLENGE: accepted
                    s.sendall(big)
                except OSError:
                    pass            # refused, as it should be
            s.setblocking(False)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.wait(0.2):
            for s in list(self.trickle):
                try:
                    s.send(b"M")
                except OSError:
                    self.trickle.remove(s)

    def close(self):
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def seconds_until_closed(port, source, timeout=10):
    """Opens a connection from source that sends a byte every 0.2 s;
    seconds until the server closes it."""
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    t0 = time.monotonic()
    s.settimeout(0.2)
    try:
        while time.monotonic() - t0 < timeout:
            try:
                if s.recv(4096) == b"":
                    break
            except socket.timeout:
                pass
            s.send(b"M")
    except OSError:
        pass
    finally:
        s.close()
    return time.monotonic() - t0


def test_connections_that_never_authenticate_lock_no_replica_out():
    c = Cluster(2, cluster={"secret_file": secret_file()})
    n1, n2 = c.nodes
    n1.upload("before")
    n2.wait_for(lambda: n2.count("before")["before"] == 1, what="replication")
    pid = n1.children("memdbd: replicator")[0]
    n2.stop()
    rss0 = rss_kib(pid)
    r0 = counters(n1)[1]

    flood = Flood(n1.rport, 200)
    try:
        # n2 comes back while they are there
        n1.upload("during")
        t0 = time.monotonic()
        n2.start()
        n2.wait_for(lambda: n2.count("during")["during"] == 1, timeout=15,
                    what="replication during the flood")
        dt = time.monotonic() - t0
        rss1 = rss_kib(pid)
    finally:
        flood.close()
    refused = counters(n1)[1] - r0
    closed = seconds_until_closed(n1.rport, "127.0.0.2")
    print(f"# with 200 connections that do not authenticate, restarted n2 "
          f"replicated {dt:.2f}s after its start; n1's replicator grew by "
          f"{rss1 - rss0} KiB ({rss0} -> {rss1}); {refused} connections "
          f"refused; one sending a byte every 0.2 s was closed after "
          f"{closed:.2f}s")
    assert dt < 3, f"n2 replicated again only after {dt:.2f}s"
    assert rss1 - rss0 < 4096, f"n1's replicator grew by {rss1 - rss0} KiB"
    assert refused >= 150, refused
    assert 2.5 < closed < 4.5, f"a connection was kept {closed:.2f}s"
