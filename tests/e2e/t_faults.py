"""Crash windows tested on purpose: each test arms a named fault point
(src/core/fault.h; a build with --enable-fault-injection) to kill or stop a
process at one exact line, then checks that the node keeps serving and
that every count is exact.  Without fault injection they are skipped."""
import json
import os
import signal
import threading
import time

from lib import Cluster, Ledger, Node, check_ledger, ledgers_stop, need_faults


def words(n, prefix):
    return [f"{prefix}{i:05d}" for i in range(n)]


def post_async(node, body):
    """Uploads body in a thread; the answer (or the error) lands in box."""
    box = {}

    def run():
        try:
            box["status"] = node.request("POST", "/api/v1/upload", body,
                                         timeout=60)[0]
        except OSError as e:
            box["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def stopped(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def wait_stopped(node, timeout=10):
    """The pid of a worker of node that a fault point stopped."""
    def find():
        for pid in node.children():
            try:
                if stopped(pid):
                    return pid
            except OSError:
                pass
        return None
    return node.wait_for(find, timeout=timeout, what="a stopped worker")


def writes_work(node, timeout=5):
    """Seconds until node answers an upload again (fails after timeout)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        try:
            st, _, _ = node.request("POST", "/api/v1/upload", b"alive",
                                    timeout=1)
            if st == 200:
                return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no upload answered within {timeout}s")


def test_two_workers_killed_holding_locks_each_others_record_needs():
    # Worker A stops holding a partition lock at its word 100 of W; worker
    # B, uploading W reversed, stops holding one at its word 1000.  Each
    # record's rest needs the other's partition.  Both are killed with one
    # signal each at the same moment: the master must repair both before
    # it finishes either record, or it waits forever on a dead pid.
    need_faults()
    n = Node(workers=2).start()
    w = words(8000, "k")
    n.fault("ht.locked", "stop", process="worker", skip=100, count=1)
    ta, _ = post_async(n, " ".join(w).encode())
    a = wait_stopped(n)
    n.fault("ht.locked", "stop", process="worker", skip=1000, count=1)
    tb, _ = post_async(n, " ".join(reversed(w)).encode())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        others = [p for p in n.children() if p != a and stopped(p)]
        if others:
            break
        time.sleep(0.02)
    assert others, "the second worker did not stop"
    b = others[0]
    os.kill(a, signal.SIGKILL)
    os.kill(b, signal.SIGKILL)
    dt = writes_work(n, timeout=5)
    print(f"# writes answered {dt:.2f}s after both workers were killed")
    ta.join(5)
    tb.join(5)
    # both records were complete in the ring: the master finished both
    table = n.allwords()
    bad = {k: v for k, v in table.items() if k.startswith("k") and v != 2}
    assert not bad, f"{len(bad)} words not counted twice, e.g. " \
                    f"{list(bad.items())[:3]}"
    assert len([k for k in table if k.startswith("k")]) == 8000
    log = n.log()
    assert "died holding a lock" in log or log.count("killed by signal 9") == 2


def test_a_worker_killed_reading_the_leaders_of_a_partition():
    # GET /top reads a partition's leaders under its lock: a worker
    # killed there leaves the lock with its pid.  The master repairs the
    # partition (its leaders found again); uploads and /top go on, exact.
    need_faults()
    n = Node(workers=2).start()
    body = " ".join(f"t{i} " * (i + 1) for i in range(50))
    n.upload(body)
    n.fault("ht.top_locked", "stop", process="worker", count=1)

    def top():
        try:
            n.request("GET", "/api/v1/top?n=5", timeout=30)
        except OSError:
            pass
    th = threading.Thread(target=top, daemon=True)
    th.start()
    pid = wait_stopped(n)
    os.kill(pid, signal.SIGKILL)
    th.join(30)
    n.upload(body)   # every partition of the table: none is locked
    n.upload("t0 " * 200)
    expect = {f"t{i}": 2 * (i + 1) for i in range(50)}
    expect["t0"] += 200
    assert n.allwords() == expect
    best = sorted(expect.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    for _ in range(4):   # on either worker
        got = n.get("/api/v1/top?n=5")
        assert [(t["word"], t["count"]) for t in got] == best, got


def reads_answer(node, rounds=10):
    """Every reader of the shm member table answers, rounds times."""
    for _ in range(rounds):
        for path in ("/api/v1/cluster/nodes", "/metrics", "/api/v1/status"):
            st, _, _ = node.request("GET", path, timeout=2)
            assert st == 200, path
        time.sleep(0.05)


def test_replicator_stopped_or_killed_mid_publish_blocks_no_reader():
    # The replicator is paused, then killed, between the two halves of
    # writing the member table in shm.  Workers, metrics and the master
    # read that table: none may wait for the writer, and the next
    # replicator must leave the table readable.
    need_faults()
    c = Cluster(3)
    leader = c.wait_leader()
    leader.upload("before")
    leader.fault("roster.publish", "stop", process="replicator", count=1)
    leader.wait_for(lambda: leader.fault_fired("roster.publish") >= 1,
                    what="the replicator to stop")
    rp = leader.children("memdbd: replicator")[0]
    try:
        reads_answer(leader, rounds=3)
        st, _, _ = leader.request("POST", "/api/v1/upload", b"during",
                                  timeout=3)
        assert st == 200
    finally:
        os.kill(rp, signal.SIGCONT)
    leader.fault("roster.publish", "kill", process="replicator", count=1)
    leader.wait_for(lambda: leader.fault_fired("roster.publish") >= 1,
                    what="the fault to fire")
    t0 = time.monotonic()
    writes_work(leader)
    leader.wait_for(lambda: leader.children("memdbd: replicator"),
                    what="a new replicator")
    reads_answer(leader)
    print(f"# reads and writes answered {time.monotonic() - t0:.2f}s after "
          f"the replicator died mid-publish")
    table = c.wait_converged()
    assert table["before"] == 1 and table["during"] == 1


def test_replica_replicator_killed_between_reserve_and_publish():
    # A replica's replicator dies after it reserved the ring slot for the
    # leader's next record and before it copied it.  The replica must not
    # log a no-op under that LSN and then report the LSN as held (the
    # leader would resume after it: silent divergence).
    need_faults()
    c = Cluster(3)
    leader = c.wait_leader()
    replica = next(n for n in c.nodes if n is not leader)
    for i in range(20):
        leader.upload(f"pre{i} common")
    c.wait_converged()
    replica.fault("follow.reserved", "kill", process="replicator", count=1)
    for i in range(40):
        leader.upload(f"post{i} common")
    replica.wait_for(lambda: replica.fault_fired("follow.reserved") >= 1,
                     what="the fault to fire")
    for i in range(20):
        leader.upload(f"late{i} common")
    table = c.wait_converged(timeout=20)
    assert table["common"] == 80, table["common"]
    for p in ("pre", "post", "late"):
        m = 40 if p == "post" else 20
        assert all(table.get(f"{p}{i}") == 1 for i in range(m)), p
    st = replica.get("/api/v1/status")
    assert st["lsn"] == leader.get("/api/v1/status")["lsn"]


def test_fault_endpoint_rejects_bad_arming():
    need_faults()
    n = Node().start()
    st, body = n._admin("POST", "/api/v1/admin/fault?point=x&action=boom")
    assert st == 400 and b"unknown fault action" in body
    st, body = n._admin("POST", "/api/v1/admin/fault?point=x&action=sleep")
    assert st == 400 and b"needs an argument" in body
    st, body = n._admin("POST", "/api/v1/admin/fault?point=x&action=kill"
                        "&process=nobody")
    assert st == 400 and b"unknown process" in body
    n.fault("x", "sleep:1", count=0)
    st, body = n._admin("GET", "/api/v1/admin/fault")
    assert [f["point"] for f in json.loads(body)] == ["x"]
    n.fault("x", "off")
    st, body = n._admin("GET", "/api/v1/admin/fault")
    assert json.loads(body) == []


def test_upload_parked_for_ring_room_is_fenced_after_a_step_down():
    # The leader's disk is slow: its ring fills and uploads park for room.
    # Meanwhile the cluster elects another leader and this one steps down.
    # A parked upload that resumes must not take an LSN on what is now a
    # replica (it would be answered 200 there and block the log writer).
    need_faults()
    c = Cluster(3, persistence={"ring_size": "1MiB"},
                http={"max_body": "256KiB"})
    old = c.wait_leader()
    old.fault("clogw.write", "sleep:300", process="master", count=0)
    ws = [Ledger(c.nodes, f"w{t}", pad=16000, timeout=10) for t in range(8)]
    for w in ws:
        w.start()
    time.sleep(1.5)                       # the ring is full, uploads park
    rp = old.children("memdbd: replicator")[0]
    os.kill(rp, signal.SIGSTOP)
    new = c.wait_leader([n for n in c.nodes if n is not old],
                        exclude=(old.id,))
    os.kill(rp, signal.SIGCONT)
    old.wait_for(lambda: old.get("/api/v1/status")["role"] == "replica",
                 what="the old leader to step down")
    stepped = time.monotonic()
    old.fault("clogw.write", "off")
    time.sleep(1.0)
    ledgers_stop(ws)
    table = c.wait_converged(timeout=30)
    acked, applied = check_ledger(table, ws)
    print(f"# {acked} acknowledged, {applied} applied; new leader {new.id}")
    assert acked > 20
    st = old.get("/api/v1/status")
    assert st["role"] == "replica" and time.monotonic() > stepped


def test_two_workers_cannot_both_be_promised_the_last_room():
    # Two uploads that each fit in store.max_memory but not together,
    # on two workers at the same moment (a fault point holds each one
    # between the sum of promises and its own promise): one is taken,
    # the other gets 507.  Before, both were promised the same room.
    need_faults()
    n = Node(workers=2, store={"max_memory": "16MiB"}).start()
    n.fault("mem.reserve", "sleep:400", process="worker", count=0)
    bodies = [" ".join(f"{p}{i:06d}" for i in range(220000)).encode()
              for p in ("a", "b")]
    results = []

    def up(body):
        results.append(n.request("POST", "/api/v1/upload", body,
                                 timeout=30)[0])
    ts = [threading.Thread(target=up, args=(b,)) for b in bodies]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    n.fault("mem.reserve", "off")
    assert sorted(results) == [200, 507], results
    st = n.get("/api/v1/status")
    assert st["memory"]["used"] <= st["memory"]["limit"], st["memory"]
