"""Durability: change log, snapshots, recovery, crash loops, disk full."""
import glob
import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time

from lib import MEMDBCTL, Node, tempdir, wait_group_gone


def ctl(*args, timeout=60):
    return subprocess.run([MEMDBCTL, *args], capture_output=True, text=True,
                          timeout=timeout)


def segments(n):
    return sorted(glob.glob(os.path.join(n.data, "log", "*.seg")))


def snapshots(n):
    return sorted(glob.glob(os.path.join(n.data, "snap", "*.snap")))


def test_counts_survive_clean_restart_via_snapshot():
    n = Node().start()
    n.upload("alpha beta alpha")
    n.upload("gamma")
    assert n.stop() == 0
    assert snapshots(n), "no snapshot at shutdown"
    n.start()
    assert n.allwords() == {"alpha": 2, "beta": 1, "gamma": 1}
    st = n.get("/api/v1/status")
    assert st["recovery"]["snapshot_lsn"] == 2
    assert st["recovery"]["records"] == 0
    assert n.upload("delta")["lsn"] == 3


def test_counts_survive_kill9_via_log_replay():
    # everysec and no answer before the master has written the record: a
    # crash of the whole process group may lose what is still in the ring,
    # so those modes wait until the log has it (status written_lsn)
    for mode in ("always", "everysec", "no"):
        n = Node(persistence={"fsync": mode}).start()
        for i in range(20):
            n.upload(f"w{i % 4} common")
        if mode != "always":
            n.wait_for(lambda: n.get("/api/v1/status")["persistence"]
                       ["written_lsn"] == 20, what="records written")
        n.kill()
        n.start()
        aw = n.allwords()
        assert aw["common"] == 20, (mode, aw)
        st = n.get("/api/v1/status")
        assert st["recovery"]["records"] == 20, (mode, st["recovery"])
        assert st["persistence"]["fsync"] == mode
        assert n.upload("next")["lsn"] == 21
        n.kill()


def test_lsns_are_consecutive_and_in_the_log():
    n = Node().start()
    lsns = [n.upload(f"x{i}")["lsn"] for i in range(30)]
    assert lsns == list(range(1, 31))
    n.stop()
    r = ctl("log", "print", n.data, "--json")
    assert r.returncode == 0, r.stderr
    recs = [json.loads(l) for l in r.stdout.splitlines()]
    assert [x["lsn"] for x in recs] == list(range(1, 31))
    assert recs[4]["words"] == {"x4": 1} and recs[4]["epoch"] == 0


def test_snapshot_on_demand_and_retention():
    n = Node(persistence={"segment_size": "64KiB", "keep_segments": 1,
                          "snapshot_every": "off"}).start()
    for i in range(60):
        n.upload(" ".join(f"word{i}-{j}" for j in range(300)))
    before = segments(n)
    assert len(before) >= 4, before
    st, _, body = n.request("POST", "/api/v1/admin/snapshot")
    assert st == 200, body
    snap = json.loads(body)
    assert snap["lsn"] == 60 and os.path.exists(snap["path"])
    after = segments(n)
    # covered segments are gone except the newest one kept for replicas
    assert len(after) <= 3, after
    n.upload("after the snapshot")
    n.kill()
    n.start()
    st = n.get("/api/v1/status")
    assert st["recovery"]["snapshot_lsn"] == 60
    assert st["recovery"]["records"] == 1
    assert st["distinct"] == 60 * 300 + 3
    r = ctl("log", "verify", n.data)
    assert r.returncode == 0, r.stdout + r.stderr


def test_snapshot_every_changes():
    n = Node(persistence={"snapshot_every": 10}).start()
    for i in range(25):
        n.upload(f"s{i}")
    n.wait_for(lambda: len(snapshots(n)) >= 2, what="periodic snapshots")
    # the file is there before the master has reaped the snapshot child and
    # published its LSN
    n.wait_for(lambda: n.get("/api/v1/status")["persistence"]
               ["snapshot_lsn"] >= 20, what="snapshot_lsn 20 in the status")


def test_snapshot_of_unchanged_table_answers_at_once():
    n = Node().start()
    n.upload("one")
    a = n.json("POST", "/api/v1/admin/snapshot")
    b = n.json("POST", "/api/v1/admin/snapshot")
    assert a["lsn"] == b["lsn"] == 1


def test_torn_tail_is_cut_with_a_warning():
    n = Node().start()
    for i in range(5):
        n.upload(f"t{i} torn")
    n.kill()
    seg = segments(n)[-1]
    size = os.path.getsize(seg)
    with open(seg, "ab") as f:          # a record cut half way
        f.write(b"MRC1\x90\x00\x00\x00\x06\x00\x00\x00")
    n.start()
    assert n.count("torn") == {"torn": 5}
    assert "torn record at the end of the log" in n.log()
    st = n.get("/api/v1/status")["recovery"]
    assert st["truncated_file"] == seg and st["truncated_offset"] == size
    assert os.path.getsize(seg) == size


def test_corrupt_middle_record_stops_start_and_tool_repairs():
    n = Node(persistence={"snapshot_every": "off"}).start()
    for i in range(10):
        n.upload(f"c{i} mid")
    n.kill()
    seg = segments(n)[-1]
    out = ctl("log", "print", n.data, "--json").stdout.splitlines()
    assert len(out) == 10
    data = bytearray(open(seg, "rb").read())
    # flip a byte inside the 4th record (records start after the header)
    off = 64
    for _ in range(3):
        off += int.from_bytes(data[off + 4:off + 8], "little")
    data[off + 42] ^= 0xFF
    open(seg, "wb").write(data)
    n.start(wait=False)
    assert n.proc.wait(timeout=20) == 2
    log = n.log()
    assert f"{seg}: offset {off}" in log and "lsn 3" in log, log[-800:]
    assert "memdbctl log" in log
    r = ctl("log", "verify", n.data)
    assert r.returncode == 1 and "DAMAGED" in r.stdout
    r = ctl("log", "truncate", n.data)
    assert r.returncode == 1 and "would cut" in r.stdout
    r = ctl("log", "truncate", n.data, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    n.start()
    assert n.count("mid") == {"mid": 3}
    assert ctl("log", "verify", n.data).returncode == 0


def _client(port, stop, ledger, tag):
    i = 0
    while not stop.is_set():
        marker = f"k{tag}-{i}"
        ledger["attempted"].append(marker)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("POST", "/api/v1/upload", body=f"{marker} shared x x")
            r = c.getresponse()
            r.read()
            if r.status == 200:
                ledger["acked"].append(marker)
            c.close()
        except (OSError, http.client.HTTPException):
            time.sleep(0.01)
        i += 1


def _check_ledger(aw, ledgers):
    acked = {m for l in ledgers for m in l["acked"]}
    attempted = {m for l in ledgers for m in l["attempted"]}
    applied = {k for k in aw if k.startswith("k")}
    lost = acked - applied
    assert not lost, f"{len(lost)} acknowledged uploads lost: {sorted(lost)[:5]}"
    assert applied <= attempted
    assert all(aw[m] == 1 for m in applied)
    assert aw.get("shared", 0) == len(applied)
    assert aw.get("x", 0) == 2 * len(applied)
    return len(acked)


def test_crash_loop_fsync_always_loses_nothing_acknowledged():
    n = Node(workers=2, persistence={"fsync": "always",
                                     "segment_size": "256KiB",
                                     "snapshot_every": 200}).start()
    ledgers = [{"attempted": [], "acked": []} for _ in range(3)]
    rng = random.Random(11)
    total_acked = 0
    for round_ in range(20):
        stop = threading.Event()
        threads = [threading.Thread(target=_client,
                                    args=(n.port, stop, ledgers[t], t * 100 +
                                          round_))
                   for t in range(3)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.1, 0.4))
        os.killpg(n.pid, signal.SIGKILL)
        n.proc.wait()
        # the master is gone, but a worker may not be yet, and it holds
        # the listen socket: the restart would fail with EADDRINUSE
        wait_group_gone(n.pid)
        stop.set()
        for t in threads:
            t.join()
        n.start()
        total_acked = _check_ledger(n.allwords(), ledgers)
    assert total_acked > 200, total_acked
    n.kill()
    r = ctl("log", "counts", n.data)
    assert r.returncode == 0, r.stderr
    n.start()
    assert json.loads(r.stdout) == n.allwords()


def test_worker_killed_mid_upload_log_matches_table():
    n = Node(workers=2, persistence={"fsync": "always"}).start()
    ledgers = [{"attempted": [], "acked": []} for _ in range(3)]
    stop = threading.Event()
    threads = [threading.Thread(target=_client, args=(n.port, stop,
                                                      ledgers[t], t))
               for t in range(3)]
    for t in threads:
        t.start()
    for _ in range(5):
        time.sleep(0.2)
        ws = n.children()
        if ws:
            os.kill(random.choice(ws), signal.SIGKILL)
        n.wait_for(lambda: len(n.children()) == 2, what="respawn")
    stop.set()
    for t in threads:
        t.join()
    table = n.allwords()
    _check_ledger(table, ledgers)
    assert n.stop() == 0
    r = ctl("log", "counts", n.data)
    assert json.loads(r.stdout) == table


def test_disk_full_gives_503_and_recovers():
    if os.geteuid() != 0:
        return
    d = tempdir()
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs",
                        mnt], capture_output=True)
    if r.returncode != 0:
        raise AssertionError(f"cannot mount a tmpfs: {r.stderr!r}")
    try:
        n = Node(persistence={"fsync": "always", "snapshot_every": "off"})
        n.data = os.path.join(mnt, "data")
        n.cfg["node"]["data_dir"] = n.data
        n.start()
        filler = os.path.join(mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        os.close(fd)
        statuses = []
        for i in range(200):
            st, _, body = n.request("POST", "/api/v1/upload",
                                    f"full{i} " * 2000)
            statuses.append(st)
            if st == 503:
                assert "cannot be written" in json.loads(body)["error"]
                break
        assert 503 in statuses, statuses
        before = n.allwords()
        st, _, _ = n.request("POST", "/api/v1/upload", b"refused")
        assert st == 503
        assert n.allwords() == before          # reads keep working
        # a retract and a reset are refused the same way
        st, _, _ = n.request("POST", "/api/v1/tables/default/retract",
                             b"full0")
        assert st == 503, st
        st, _, _ = n.request("DELETE", "/api/v1/tables/default/words/full0")
        assert st == 503, st
        st, _, _ = n.request("POST", "/api/v1/tables/default/upload", b"x")
        assert st == 503, st
        assert n.allwords() == before
        os.unlink(filler)
        n.wait_for(lambda: n.request("POST", "/api/v1/upload",
                                     b"back again")[0] == 200,
                   timeout=15, what="uploads after the disk has room")
        assert n.get("/api/v1/status")["persistence"]["disk_error"] == ""
        n.kill()
        n.start()
        assert n.count("back")["back"] >= 1
        n.kill()
    finally:
        subprocess.run(["umount", "-l", mnt])
