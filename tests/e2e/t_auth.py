"""Cluster authentication (cluster.secret_file) across restarts.

- A restarted node (or replicator) is a new boot: its peers take its
  messages at once and keep refusing the old boot's.
- Datagrams of another version are refused and counted.
"""
import hashlib
import hmac
import os
import signal
import socket
import struct
import time

from lib import Cluster, tempdir

SECRET = b"correct horse battery staple"
KEY = hashlib.blake2b(SECRET, digest_size=32).digest()  # auth_load

# ---- the protocol, spoken with the secret (replicator/README) ----------

GSP_MAGIC, GSP_VERSION = 0x5053474D, 2
GSP_PING, GSP_ACK = 1, 2
ROLE_LEADER, ROLE_REPLICA = 1, 2


def mac(key, data):
    """crypto_auth: HMAC-SHA-512 truncated to 256 bits."""
    return hmac.new(key, data, hashlib.sha512).digest()[:32]


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


def test_other_versions_are_refused_and_counted():
    c = Cluster(1, cluster={"secret_file": secret_file()})
    n1 = c.nodes[0]
    g0 = counters(n1)[2]
    rec = member_rec("n9", "127.0.0.1:9")
    # refused for its version byte, before its size is looked at
    send_udp(n1.gport, datagram(GSP_PING, rec, 1, 1, version=1))
    n1.wait_for(lambda: counters(n1)[2] == g0 + 1, what="gossip_bad")
    assert "gossip datagram of version 1" in n1.log()
