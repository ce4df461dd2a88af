"""The nemesis suite: a ledger workload (lib.Ledger: unique markers,
acknowledged <= applied <= attempted, each applied exactly once, every node
equal at the end, one leader per epoch from the logs) under the faults a
cluster meets: network partitions of a leader, of a replica and 2|3 splits
of five nodes with real packet loss, a pause of every process of the
leader, replicator kill loops and two workers killed together.

Partitions: every node runs in a network namespace of its own
(`ip netns`), joined to the others by a veth pair on a bridge in a hub
namespace, where the test itself runs (it enters the hub with setns for
the length of the test).  A partition is iptables DROP rules, INPUT and
OUTPUT, inside the namespaces of the nodes cut apart: packets are really
lost, both ways, for gossip and replication alike; the test's clients
in the hub still reach every node.  These tests need root, ip and
iptables, and are skipped without them.  Each round prints what it
measured."""
import ctypes
import os
import random
import shutil
import signal
import subprocess
import threading
import time

from lib import (Cluster, Node, Skip, check_ledger, first_write,
                 ledgers_start, ledgers_stop)

CLONE_NEWNET = 0x40000000
NET = "10.77.0"


def sh(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")


class NetLab:
    """n node namespaces around a hub; nodes listen on NET.(10+i)."""

    def __init__(self, n):
        if os.geteuid() != 0:
            raise Skip("network namespaces need root")
        for tool in ("ip", "iptables"):
            if shutil.which(tool) is None:
                raise Skip(f"{tool} not found (iproute2, iptables)")
        self.n = n
        self.tag = f"memdb{os.getpid()}r{random.randrange(1 << 20)}"
        self.hub = f"{self.tag}-hub"
        self.ns = [f"{self.tag}-n{i}" for i in range(1, n + 1)]
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.orig = None

    def ip_of(self, i):
        return f"{NET}.{10 + i}"

    def __enter__(self):
        try:
            self._build()
        except RuntimeError as e:
            # a machine that cannot make network namespaces (a container
            # without the rights): the test cannot run here
            self._destroy()
            raise Skip(f"no network namespaces here: {e}") from e
        self.orig = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.hub}", os.O_RDONLY)
        try:
            if self.libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns(hub)")
        finally:
            os.close(fd)
        return self

    def _build(self):
        sh("ip", "netns", "add", self.hub)
        sh("ip", "-n", self.hub, "link", "set", "lo", "up")
        sh("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.hub, "addr", "add", f"{NET}.1/24", "dev", "br0")
        sh("ip", "-n", self.hub, "link", "set", "br0", "up")
        for i, ns in enumerate(self.ns, 1):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", self.hub, "link", "add", f"v{i}", "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", self.hub, "link", "set", f"v{i}", "master", "br0",
               "up")
            sh("ip", "-n", ns, "addr", "add", f"{self.ip_of(i)}/24", "dev",
               "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")

    def __exit__(self, *exc):
        if self.orig is not None:
            self.libc.setns(self.orig, CLONE_NEWNET)
            os.close(self.orig)
            self.orig = None
        self._destroy()

    def _destroy(self):
        for ns in [self.hub] + self.ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def iptables(self, i, *rule):
        sh("ip", "netns", "exec", self.ns[i - 1], "iptables", *rule)

    def cut(self, side_a, side_b):
        """Drops every packet between the nodes of side_a and side_b
        (1-based indexes), both ways."""
        for a in side_a:
            for b in side_b:
                for x, y in ((a, b), (b, a)):
                    self.iptables(x, "-A", "INPUT", "-s", self.ip_of(y),
                                  "-j", "DROP")
                    self.iptables(x, "-A", "OUTPUT", "-d", self.ip_of(y),
                                  "-j", "DROP")

    def heal(self):
        for i in range(1, self.n + 1):
            self.iptables(i, "-F")

    def cluster(self, **sections):
        """A Cluster of n nodes, one per namespace, n1 founding it."""
        c = Cluster(self.n, start=False, probe="100ms", timeout="50ms",
                    **sections)
        for i, node in enumerate(c.nodes, 1):
            ip = self.ip_of(i)
            node.host, node.port = ip, 9889
            node.gport = node.rport = None
            node.prefix = ["ip", "netns", "exec", self.ns[i - 1]]
            node.cfg["http"]["listen"] = f"{ip}:9889"
            node.cfg["cluster"]["gossip"] = f"{ip}:7946"
            node.cfg["cluster"]["replication"] = f"{ip}:7947"
            if i > 1:
                node.cfg["cluster"]["seeds"] = [f"{self.ip_of(1)}:7946"]
        c.nodes[0].start()
        c.wait_leader([c.nodes[0]])
        for node in c.nodes[1:]:
            node.start()
        c.wait_members()
        return c


def index_of(c, node):
    return c.nodes.index(node) + 1


def settle(c, ls, what, t0):
    """Stops the clients, waits for every node to agree, checks the ledger
    and one leader per epoch; prints the round's figures."""
    ledgers_stop(ls)
    c.wait_leader(timeout=30)
    table = c.wait_converged(timeout=45)
    acked, applied = check_ledger(table, ls)
    c.assert_one_leader_per_epoch()
    attempted = sum(len(x.attempted) for x in ls)
    print(f"# {what}: {attempted} attempted, {acked} acknowledged, "
          f"{applied} applied once each, {len(c.alive())} nodes equal "
          f"({time.monotonic() - t0:.1f}s)")
    return table


def test_partition_of_the_leader():
    with NetLab(3) as lab:
        c = lab.cluster()
        for rnd in range(2):
            t0 = time.monotonic()
            ls = ledgers_start(c.nodes, prefix=f"r{rnd}c")
            time.sleep(0.5)
            leader = c.wait_leader()
            li = index_of(c, leader)
            lab.cut([li], [i for i in range(1, 4) if i != li])
            c.wait_leader([n for n in c.nodes if n is not leader],
                          exclude=(leader.id,), timeout=20)
            time.sleep(1.0)   # the old leader keeps taking writes alone
            lab.heal()
            time.sleep(0.5)
            settle(c, ls, f"round {rnd + 1}: leader {leader.id} cut off",
                   t0)


def test_partition_of_a_replica():
    with NetLab(3) as lab:
        c = lab.cluster()
        t0 = time.monotonic()
        ls = ledgers_start(c.nodes)
        leader = c.wait_leader()
        r = next(n for n in c.nodes if n is not leader)
        ri = index_of(c, r)
        lab.cut([ri], [i for i in range(1, 4) if i != ri])
        time.sleep(3.0)
        # the lone replica must not take over, nor take a write
        assert r.get("/api/v1/status")["role"] == "replica"
        st, _, _ = r.request("POST", "/api/v1/upload", b"lone", timeout=3)
        assert st != 200, st
        lab.heal()
        time.sleep(0.5)
        table = settle(c, ls, f"replica {r.id} cut off for 3s", t0)
        assert "lone" not in table
        assert c.wait_leader() is leader   # a healthy leader stays


def test_two_splits_of_five_nodes():
    # 2|3 splits, each time with the leader on the side of two, which
    # keeps taking writes while the three elect another leader; the
    # minority's tail is counted exactly once after each heal.
    with NetLab(5) as lab:
        c = lab.cluster()
        for rnd in range(2):
            t0 = time.monotonic()
            ls = ledgers_start(c.nodes, n=4, prefix=f"s{rnd}c")
            time.sleep(0.5)
            leader = c.wait_leader()
            li = index_of(c, leader)
            others = [i for i in range(1, 6) if i != li]
            random.shuffle(others)
            minority, majority = [li, others[0]], others[1:]
            lab.cut(minority, majority)
            maj_nodes = [c.nodes[i - 1] for i in majority]
            new = c.wait_leader(maj_nodes, exclude=(leader.id,), timeout=20)
            time.sleep(2.0)
            lab.heal()
            time.sleep(0.5)
            settle(c, ls, f"split {rnd + 1}: "
                   f"{{{', '.join('n%d' % i for i in sorted(minority))}}} | "
                   f"{{{', '.join('n%d' % i for i in sorted(majority))}}}, "
                   f"new leader {new.id}", t0)


def pause_leader(c):
    """SIGSTOP of every process of the leader until the others elect
    another and take writes for a second; returns the paused node."""
    leader = c.wait_leader()
    os.killpg(leader.pid, signal.SIGSTOP)
    try:
        c.wait_leader([n for n in c.nodes if n is not leader],
                      exclude=(leader.id,), timeout=20)
        time.sleep(1.0)
    finally:
        os.killpg(leader.pid, signal.SIGCONT)
    time.sleep(0.5)
    return leader


def test_pause_of_every_process_of_the_leader():
    with NetLab(3) as lab:
        c = lab.cluster()
        t0 = time.monotonic()
        ls = ledgers_start(c.nodes)
        time.sleep(0.5)
        leader = pause_leader(c)
        settle(c, ls, f"leader {leader.id} paused (SIGSTOP of its group)",
               t0)


# ---- process faults (no namespaces needed) -------------------------------


def writes_within(nodes, seconds=5):
    """Seconds until some node takes an upload."""
    return first_write(nodes, timeout=seconds)[0]


def test_replicator_kill_loop():
    # the leader's and a replica's replicator killed 15 times under load;
    # after each kill writes are answered within 5 s
    c = Cluster(3, probe="100ms", timeout="50ms")
    t0 = time.monotonic()
    ls = ledgers_start(c.nodes)
    worst = 0.0
    for k in range(15):
        time.sleep(0.3)
        leader = c.wait_leader(timeout=30)
        victim = leader if k % 2 == 0 else random.choice(
            [n for n in c.nodes if n is not leader])
        pids = victim.children("memdbd: replicator")
        if pids:
            os.kill(pids[0], signal.SIGKILL)
        worst = max(worst, writes_within(c.nodes))
    settle(c, ls, f"15 replicator kills (worst wait for a write "
           f"{worst:.2f}s)", t0)


def test_two_workers_killed_together_loop():
    # both workers of a node killed at once, 10 times, while both apply
    # uploads of 8000 distinct words
    n = Node(workers=2).start()
    words = [" ".join(f"d{k}w{i:05d}" for i in range(8000)).encode()
             for k in range(2)]
    stop = threading.Event()
    sent, acked = [0, 0], [0, 0]

    def load(k):
        while not stop.is_set():
            sent[k] += 1
            try:
                st, _, _ = n.request("POST", "/api/v1/upload", words[k],
                                     timeout=10)
                acked[k] += st == 200
            except OSError:
                pass

    ts = [threading.Thread(target=load, args=(k,), daemon=True)
          for k in range(2)]
    for t in ts:
        t.start()
    worst = 0.0
    t0 = time.monotonic()
    for _ in range(10):
        time.sleep(0.15)
        pids = n.children()
        subprocess.run(["kill", "-9", *map(str, pids)], check=False)
        worst = max(worst, writes_within([n]))
    stop.set()
    for t in ts:
        t.join(15)
    # every upload is applied whole or not at all: every word of one
    # body has the same count
    table = n.allwords()
    for k in range(2):
        counts = {table.get(f"d{k}w{i:05d}", 0) for i in range(8000)}
        assert len(counts) == 1, f"body {k} applied in part: {counts}"
        # acknowledged <= applied <= attempted
        assert acked[k] <= counts.pop() <= sent[k], (acked[k], sent[k])
    print(f"# 10 double worker kills: {sent[0] + sent[1]} uploads sent, "
          f"writes back after at most {worst:.2f}s "
          f"({time.monotonic() - t0:.1f}s)")
