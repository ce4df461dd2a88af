"""Disks that fail: a data directory two daemons want, an fsync that fails,
a disk that fills up, a cluster state that cannot be written.  What was
acknowledged stays acknowledged; what cannot be made durable is not
granted."""
import os
import re
import subprocess
import tempfile
import time

from lib import (MEMDBD, Cluster, Ledger, Node, Skip, check_ledger,
                 ledgers_stop, need_faults, write_config)


def test_second_memdbd_on_the_same_data_dir_exits_2_naming_the_holder():
    n = Node().start()
    n.upload("mine")
    # the same data directory, another port
    other = Node()
    other.data = other.cfg["node"]["data_dir"] = n.data
    write_config(other.cfg_path, other.cfg)
    p = subprocess.Popen([MEMDBD, "-c", other.cfg_path],
                         stderr=subprocess.PIPE, text=True)
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("a second memdbd runs on the same data dir")
    assert p.returncode == 2, (p.returncode, err[-500:])
    assert f"in use by another memdbd (pid {n.pid})" in err, err
    assert n.count("mine")["mine"] == 1
    n.upload("still mine")
    assert n.count("mine")["mine"] == 2


def test_fsync_error_then_crash_keeps_every_acknowledged_upload():
    # fsync fails (EIO) once; the master is then stopped where it would
    # start rewriting, and the whole node is killed.  Uploads were
    # answered once written (everysec): not one may be missing after
    # the restart.
    need_faults()
    n = Node(persistence={"fsync": "everysec"}).start()
    up = Ledger([n], "u")
    up.start()
    time.sleep(0.5)
    n.fault("clogw.retry", "stop", process="master", count=1)
    n.fault("clogw.fsync", "error:5", process="master", count=1)
    n.wait_for(lambda: n.fault_fired("clogw.retry") >= 1, timeout=10,
               what="the master to stop before its rewrite")
    ledgers_stop([up])
    n.kill()
    assert len(up.acked) > 20, len(up.acked)
    n.start()
    check_ledger(n.allwords(), [up])
    print(f"# {len(up.acked)} acknowledged, all there after the restart")


def mount_tmpfs(size):
    d = tempfile.mkdtemp(prefix="memdb-tmpfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}",
                        "tmpfs", d], capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(d)
        raise Skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    return d


def test_full_disk_refuses_uploads_and_loses_nothing_acknowledged():
    # A data dir on a 4 MiB tmpfs fills up: uploads get 503 and change
    # nothing; the node is killed while the disk is full; with room again
    # it recovers every upload it acknowledged, once.
    if os.geteuid() != 0:
        raise Skip("mounting a tmpfs needs root")
    d = mount_tmpfs("4m")
    try:
        n = Node(persistence={"fsync": "everysec",
                              "snapshot_every": "off"})
        n.data = n.cfg["node"]["data_dir"] = os.path.join(d, "data")
        n.start()
        up = Ledger([n], "u", pad=200)
        up.start()
        n.wait_for(lambda: up.errors > 20, timeout=60,
                   what="the disk to fill up")
        st, _, body = n.request("POST", "/api/v1/upload", b"refused")
        assert st == 503 and b"No space left" in body, (st, body)
        ledgers_stop([up])
        assert n.count("refused")["refused"] == 0
        n.kill()
        subprocess.run(["mount", "-o", "remount,size=64m", d], check=True)
        n.start()
        table = n.allwords()
        check_ledger(table, [up])
        assert "refused" not in table
        print(f"# {len(up.acked)} acknowledged before the disk was full, "
              f"{up.errors} refused, all there after the restart")
    finally:
        for x in list(__import__("lib")._nodes):
            if x.data.startswith(d):
                x.kill()
        subprocess.run(["umount", "-l", d])
        os.rmdir(d)


def test_no_vote_is_granted_when_it_cannot_be_persisted():
    # n2 and n3 cannot write their cluster state (ENOSPC): when the leader
    # dies, neither may grant a vote or stand, so no leader appears; once
    # the disk works, one is elected.
    need_faults()
    c = Cluster(3, probe="100ms", timeout="50ms")
    n1 = c.wait_leader()
    others = [n for n in c.nodes if n is not n1]
    for n in others:
        n.fault("cstate.save", "error:28", process="replicator", count=0)
    n1.kill()
    time.sleep(3)
    for n in others:
        assert n.get("/api/v1/status")["role"] == "replica"
        assert not re.search(r"voted for|became leader for epoch [2-9]",
                             n.log()), n.log()[-1500:]
    for n in others:
        n.fault("cstate.save", "off")
    new = c.wait_leader(others, timeout=15)
    assert new is not n1
