"""The hand-over after a failover, exactly once by origin: a divergent tail
held by two nodes, or handed over from two overlapping files, counts once.

The faults here are pauses (SIGSTOP of replicators): a stopped replicator
neither sends nor receives, which cuts a node off the cluster while its
workers keep taking writes.  The partitions of the nemesis suite
(t_nemesis.py) do the same with real packet loss."""
import glob
import os
import signal
import time

from lib import Cluster, need_faults


def repl_pid(node):
    pids = node.children("memdbd: replicator")
    assert pids, f"{node.id} has no replicator"
    return pids[0]


def stop(*nodes):
    for n in nodes:
        os.kill(repl_pid(n), signal.SIGSTOP)


def cont(*nodes):
    for n in nodes:
        for p in n.children("memdbd: replicator"):
            os.kill(p, signal.SIGCONT)


def exactly_once(table, markers):
    bad = {m: table.get(m) for m in markers if table.get(m) != 1}
    assert not bad, f"{len(bad)} markers not counted once, e.g. " \
                    f"{list(bad.items())[:5]}"


def test_tail_held_by_two_nodes_is_counted_once():
    # {A, B} | {C, D, E}: B received the first half of A's tail before the
    # cut.  C, D and E elect a new leader; when A and B come back both
    # hold t1, and both hand it over.  (C, D and E are down while A
    # writes, so that they lack the whole tail: a stopped process would
    # read what its socket buffered once it runs again.)
    c = Cluster(5, probe="100ms", timeout="50ms")
    a = c.wait_leader()
    b, cc, d, e = [n for n in c.nodes if n is not a]
    a.upload("prefix")
    c.wait_converged()
    for n in (cc, d, e):
        n.kill()
    t1 = [f"t1-{i}" for i in range(30)]
    t2 = [f"t2-{i}" for i in range(30)]
    for m in t1:
        a.upload(f"{m} shared")
    b.wait_for(lambda: b.count(t1[-1])[t1[-1]] == 1, what="B to get t1")
    stop(b)
    for m in t2:
        a.upload(f"{m} shared")
    stop(a)
    for n in (cc, d, e):
        n.start()
    new = c.wait_leader([cc, d, e], exclude=(a.id, b.id), timeout=20)
    new.upload("after")
    cont(a, b)
    table = c.wait_converged(timeout=30)
    exactly_once(table, t1 + t2 + ["prefix", "after"])
    assert table["shared"] == 60, table["shared"]
    assert "took" in new.log() and "handed-over records" in new.log()


def test_overlapping_hand_over_files_count_once():
    # The old leader saved its tail and is stopped before it hands it
    # over.  A second file with the same records but the first (what a
    # tail saved against another leader leaves) is handed over first,
    # alone; then the full file comes back.  Each record counts once: the
    # later start of the first copy must not hide the record before it.
    need_faults()
    c = Cluster(3, probe="100ms", timeout="50ms")
    old = c.wait_leader()
    old.upload("prefix")
    c.wait_converged()
    old.fault("follow.merge_prepared", "stop", process="replicator")
    stop(old)
    tail = [f"tail-{i}" for i in range(40)]
    for m in tail:
        old.upload(f"{m} shared")
    new = c.wait_leader([n for n in c.nodes if n is not old],
                        exclude=(old.id,))
    new.upload("after")
    cont(old)
    old.wait_for(lambda: old.fault_fired("follow.merge_prepared") >= 1,
                 what="the tail to be saved")
    time.sleep(0.2)  # the replicator stops itself right after the fault
    cdir = os.path.join(old.data, "cluster")
    files = glob.glob(os.path.join(cdir, "merge-*.rec"))
    assert len(files) == 1, files
    with open(files[0], "rb") as f:
        data = f.read()
    first_len = int.from_bytes(data[4:8], "little")
    first = int(os.path.basename(files[0]).split("-")[1])
    last = int(os.path.basename(files[0]).split("-")[2].split(".")[0])
    aside = os.path.join(old.dir, os.path.basename(files[0]))
    os.rename(files[0], aside)
    other = os.path.join(cdir, f"merge-{first + 1:020d}-{last:020d}.rec")
    with open(other, "wb") as f:
        f.write(data[first_len:])
    cont(old)
    old.wait_for(lambda: not os.path.exists(other), timeout=20,
                 what="the later copy to be taken")
    assert new.count("tail-0")["tail-0"] == 0
    os.rename(aside, files[0])
    old.wait_for(lambda: not os.path.exists(files[0]), timeout=20,
                 what="the full copy to be taken")
    table = c.wait_converged(timeout=30)
    exactly_once(table, tail + ["prefix", "after"])
    assert table["shared"] == 40, table["shared"]
    assert not glob.glob(os.path.join(cdir, "merge-*.rec"))


def test_node_killed_during_a_full_sync_serves_no_mixed_table():
    # The old leader comes back with a tail longer than what the new
    # leader has, takes a full sync (from a snapshot), and the node is
    # killed once the leader's snapshot is in and before the log starts
    # over.  Restarted, it must not answer reads from the leader's
    # snapshot with its own later records on top (503 until a full sync
    # is through), and it ends exact.
    need_faults()
    c = Cluster(3, probe="100ms", timeout="50ms")
    old = c.wait_leader()
    pre = [f"pre{i}" for i in range(20)]
    for m in pre:
        old.upload(f"{m} shared")
    c.wait_converged()
    stop(old)
    tail = [f"tail{i}" for i in range(40)]
    for m in tail:
        old.upload(f"{m} shared")
    new = c.wait_leader([n for n in c.nodes if n is not old],
                        exclude=(old.id,))
    fresh = [f"new{i}" for i in range(20)]
    for m in fresh:
        new.upload(f"{m} shared")
    new.json("POST", "/api/v1/admin/snapshot")
    old.fault("follow.snapshot_in", "stop", process="replicator")
    cont(old)
    old.wait_for(lambda: old.fault_fired("follow.snapshot_in") >= 1,
                 what="the snapshot to be in")
    time.sleep(0.2)
    old.kill()
    os.environ["MEMDB_FAULTS"] = "repl.started=stop@replicator"
    try:
        old.start()
    finally:
        del os.environ["MEMDB_FAULTS"]
    old.wait_for(lambda: old.fault_fired("repl.started") >= 1,
                 what="the replicator to stop at its start")
    st, _, body = old.request("GET", "/api/v1/wordcount?word=tail39")
    assert st == 503, (st, body)
    cont(old)
    table = c.wait_converged(timeout=30)
    exactly_once(table, pre + tail + fresh)
    assert table["shared"] == 80, table["shared"]
