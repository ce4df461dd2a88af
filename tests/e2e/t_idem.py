"""Exactly-once uploads: the Idempotency-Key header (a replay answers the
first answer and counts nothing, another body 422, a key in flight 409),
its window and memory bound, keys through restarts (snapshot and log),
replicas and full syncs, and the exact ledger (lib.KeyedLedger: every
upload retried with its key until answered, counted exactly once) under
kill -9 of the leader, a worker killed after applying, a partition of the
leader and a pause of the whole leader."""
import json
import os
import threading
import time

from lib import (Cluster, Node, check_ledger, ledgers_start, ledgers_stop,
                 need_faults, raw, parse_responses)

HDR = "Idempotency-Key"


def keyed(n, body, key, expect=None):
    st, hdrs, data = n.request("POST", "/api/v1/upload", body.encode(),
                               {HDR: key})
    if expect is not None:
        assert st == expect, (st, data)
    return st, hdrs, json.loads(data) if data else None


def keys_status(n):
    return n.get("/api/v1/status")["idempotency"]


def test_a_key_counts_once_and_replays_its_answer():
    n = Node().start()
    st, h, first = keyed(n, "a b a", "k-1", 200)
    assert first == {"words": 3, "distinct": 2, "lsn": 1}, first
    assert "Idempotent-Replayed" not in h
    for _ in range(3):
        st, h, again = keyed(n, "a b a", "k-1", 200)
        assert again == first, again
        assert h.get("Idempotent-Replayed") == "true", h
    assert n.allwords() == {"a": 2, "b": 1}
    # another body with the key: 422 naming the first upload, no count
    st, h, err = keyed(n, "c", "k-1", 422)
    assert err["lsn"] == 1, err
    # another key with the same body counts; no key counts every time
    keyed(n, "a b a", "k-2", 200)
    n.upload("a")
    n.upload("a")
    assert n.allwords() == {"a": 6, "b": 2}
    ks = keys_status(n)
    assert ks["keys"] == 2 and ks["replays"] == 3 and ks["conflicts"] == 1, ks
    assert ks["max_keys"] == 1000000 and ks["window_ms"] == 86400000, ks
    assert ks["bytes"] > 80 * 1000000, ks
    m = n.request("GET", "/metrics")[2].decode()
    assert "memdb_idempotency_keys 2\n" in m, m
    assert "memdb_idempotency_replays_total 3\n" in m
    # an empty upload with a key is not remembered
    keyed(n, "", "k-3", 200)
    keyed(n, "z", "k-3", 200)
    assert n.count("z") == {"z": 1}


def test_bad_keys_are_refused_and_change_nothing():
    n = Node().start()
    for bad in ("", "x" * 256, "with space", "caf\u00e9"):
        st, _, data = n.request("POST", "/api/v1/upload", b"bad",
                                {HDR: bad.encode("utf-8")})
        assert st == 400, (bad, st, data)
        assert b"Idempotency-Key" in data, data
    keyed(n, "ok", "x" * 255, 200)
    keyed(n, "ok", "!~", 200)
    req = (b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
           b"Idempotency-Key: a\r\nIdempotency-Key: b\r\n"
           b"Content-Length: 3\r\n\r\nbad")
    (st, _, body), = parse_responses(raw(n.port, req))
    assert st == 400 and b"more than one" in body, (st, body)
    assert n.allwords() == {"ok": 2}


def test_a_key_in_flight_gets_409_then_replays():
    need_faults()
    n = Node(workers=2).start()
    n.fault("upload.copied", "sleep:1500", process="worker")
    out = {}
    t = threading.Thread(target=lambda: out.update(
        first=keyed(n, "slow one", "k-slow")))
    t.start()
    time.sleep(0.4)
    st, h, err = keyed(n, "slow one", "k-slow")
    assert st == 409, (st, err)
    assert h.get("Retry-After") == "1", h
    t.join(10)
    assert out["first"][0] == 200, out
    st, h, again = keyed(n, "slow one", "k-slow", 200)
    assert again == out["first"][2] and h["Idempotent-Replayed"] == "true"
    assert n.allwords() == {"slow": 1, "one": 1}


def test_a_key_expires_after_its_window_and_counts_again():
    n = Node(uploads={"idempotency_window": "1s"}).start()
    keyed(n, "w", "k", 200)
    assert keyed(n, "w", "k", 200)[1].get("Idempotent-Replayed") == "true"
    time.sleep(1.2)
    st, h, a = keyed(n, "w", "k", 200)
    assert "Idempotent-Replayed" not in h and a["lsn"] == 2, (h, a)
    assert n.count("w") == {"w": 2}


def test_the_oldest_keys_are_forgotten_beyond_max_keys():
    n = Node(uploads={"idempotency_max_keys": 2}).start()
    for k in ("k1", "k2", "k3"):
        keyed(n, "w", k, 200)
    assert keyed(n, "w", "k3", 200)[1].get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in keyed(n, "w", "k1", 200)[1]
    assert n.count("w") == {"w": 4}
    ks = keys_status(n)
    assert ks["keys"] == 2 and ks["forgotten"] >= 1, ks


def test_keys_off_counts_every_upload():
    n = Node(uploads={"idempotency_max_keys": 0}).start()
    for _ in range(2):
        st, h, _ = keyed(n, "w", "k", 200)
        assert "Idempotent-Replayed" not in h
    assert n.count("w") == {"w": 2}
    assert keys_status(n)["max_keys"] == 0


def test_keys_survive_restart_from_snapshot_and_log():
    n = Node(persistence={"fsync": "always"}).start()
    _, _, a1 = keyed(n, "one", "k1", 200)
    assert n.stop() == 0           # k1 in the snapshot
    n.start()
    _, _, a2 = keyed(n, "two", "k2", 200)
    n.kill()                       # k2 only in the log
    n.start()
    for body, key, first in (("one", "k1", a1), ("two", "k2", a2)):
        st, h, a = keyed(n, body, key, 200)
        assert a == first and h.get("Idempotent-Replayed") == "true", (a, h)
    assert keyed(n, "three", "k1", 422)[2]["lsn"] == a1["lsn"]
    assert n.allwords() == {"one": 1, "two": 1}
    assert keys_status(n)["keys"] == 2
    # the key block, as memdbctl log print shows it
    n.stop()
    r = ctl("--json", "log", "print", n.data)
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    keys = [x["key"] for x in recs if "key" in x]
    assert [k["words"] for k in keys] == [1, 1], recs
    assert len({k["hash"] for k in keys}) == 2, keys
    assert all(len(k["hash"]) == 32 for k in keys), keys


def test_a_worker_killed_after_counting_leaves_a_replay():
    need_faults()
    n = Node(workers=1).start()
    n.fault("upload.applied", "kill", process="worker")
    try:
        st, _, _ = n.request("POST", "/api/v1/upload", b"lost answer",
                             {HDR: "k-lost"}, timeout=5)
        assert False, f"answered {st}"
    except (OSError, ConnectionError) as e:
        print(f"# no answer: {type(e).__name__}")
    except Exception as e:  # noqa: BLE001 - http.client's RemoteDisconnected
        print(f"# no answer: {type(e).__name__}")
    assert n.fault_fired("upload.applied") == 1
    n.wait_for(lambda: n.request("GET", "/healthz")[0] == 200,
               what="a worker back")
    st, h, a = keyed(n, "lost answer", "k-lost", 200)
    assert h.get("Idempotent-Replayed") == "true", h
    assert a["lsn"] == 1, a
    assert n.allwords() == {"lost": 1, "answer": 1}


def test_replicas_and_a_full_sync_know_the_keys():
    c = Cluster(3)
    leader = c.wait_leader()
    _, _, first = keyed(leader, "rep", "k-rep", 200)
    c.wait_converged()
    for n in c.nodes:
        assert keys_status(n)["keys"] == 1, n.id
    # a replica that restarts empty gets the keys with the full sync
    r = next(n for n in c.nodes if n is not leader)
    r.kill()
    import shutil
    shutil.rmtree(r.data)
    r.start()
    c.wait_converged()
    assert keys_status(r)["keys"] == 1
    # the leader killed: the new leader replays the answer
    leader.kill()
    new = c.wait_leader(exclude=(leader.id,), timeout=20)
    st, h, a = keyed(new, "rep", "k-rep", 200)
    assert a == first and h.get("Idempotent-Replayed") == "true", (a, h)
    assert new.count("rep") == {"rep": 1}


def settle_exact(c, ls, what, t0):
    ledgers_stop(ls)
    c.wait_leader(timeout=30)
    table = c.wait_converged(timeout=60)
    acked, applied = check_ledger(table, ls, exact=True)
    c.assert_one_leader_per_epoch()
    retries = sum(x.retries for x in ls)
    replays = sum(x.replays for x in ls)
    print(f"# {what}: {acked} uploads, each acknowledged and counted "
          f"exactly once on {len(c.alive())} nodes after {retries} retries "
          f"({replays} answered as replays) ({time.monotonic() - t0:.1f}s)")


def test_exact_ledger_through_leader_kills():
    c = Cluster(3, persistence={"fsync": "always"})
    t0 = time.monotonic()
    ls = ledgers_start(c.nodes, prefix="k", keyed=True)
    for rnd in range(2):
        time.sleep(0.7)
        leader = c.wait_leader()
        leader.kill()
        c.wait_leader(exclude=(leader.id,), timeout=20)
        time.sleep(0.5)
        leader.start()
    time.sleep(0.5)
    settle_exact(c, ls, "two kill -9 of the leader", t0)


def test_exact_ledger_through_worker_kills_after_applying():
    need_faults()
    c = Cluster(3, workers=2)
    t0 = time.monotonic()
    ls = ledgers_start(c.nodes, prefix="w", keyed=True)
    leader = c.wait_leader()
    for skip in (5, 20, 40):
        leader.fault("upload.applied", "kill", process="worker", skip=skip)
        leader.wait_for(lambda: leader.fault_fired("upload.applied") == 1,
                        what="a worker killed after applying")
        leader.fault("upload.applied", "off")
    time.sleep(0.5)
    settle_exact(c, ls, "three workers of the leader killed after applying",
                 t0)
    assert sum(x.replays for x in ls) >= 1, "no retry was a replay"


def test_exact_ledger_through_partition_and_pause_of_the_leader():
    from t_nemesis import NetLab, index_of, pause_leader
    with NetLab(3) as lab:
        c = lab.cluster()
        t0 = time.monotonic()
        # ?wait=1: a leader cut off cannot answer what it wrote, and the
        # clients retry those uploads on the new leader
        ls = ledgers_start(c.nodes, prefix="p", keyed=True, query="?wait=1",
                           timeout=1)
        time.sleep(0.5)
        leader = c.wait_leader()
        li = index_of(c, leader)
        lab.cut([li], [i for i in range(1, 4) if i != li])
        c.wait_leader([n for n in c.nodes if n is not leader],
                      exclude=(leader.id,), timeout=20)
        time.sleep(1.0)
        lab.heal()
        time.sleep(0.5)
        pause_leader(c)
        settle_exact(c, ls, "leader cut off, then a leader paused", t0)
        skipped = sum(n.log().count("counted here already") for n in c.nodes)
        print(f"# {skipped} handed-over records a retry had counted")


def test_handover_skips_a_record_a_retry_counted():
    from t_nemesis import NetLab, index_of
    with NetLab(3) as lab:
        c = lab.cluster()
        leader = c.wait_leader()
        li = index_of(c, leader)
        lab.cut([li], [i for i in range(1, 4) if i != li])
        # the cut-off leader logs it but no replica acknowledges it
        try:
            st, _, _ = leader.request("POST", "/api/v1/upload?wait=1",
                                      b"once only", {HDR: "k-cut"},
                                      timeout=2)
            assert st != 200, st
        except OSError:
            pass
        others = [n for n in c.nodes if n is not leader]
        new = c.wait_leader(others, exclude=(leader.id,), timeout=20)
        st, h, a = keyed(new, "once only", "k-cut", 200)
        assert "Idempotent-Replayed" not in h, h
        lab.heal()
        # the old leader steps down, hands its record over: skipped
        leader.wait_for(lambda: "counted here already by a retry"
                        in new.log(), timeout=30, what="the hand-over")
        table = c.wait_converged(timeout=30)
        assert table.get("once") == 1 and table.get("only") == 1, table
        # and the retry after the hand-over is a replay everywhere
        new = c.wait_leader()
        st, h, again = keyed(new, "once only", "k-cut", 200)
        assert h.get("Idempotent-Replayed") == "true" and again == a


def ctl(*args, timeout=120):
    import subprocess
    from lib import MEMDBCTL
    return subprocess.run([MEMDBCTL, *args], capture_output=True, text=True,
                          timeout=timeout)


def test_memdbctl_upload_twice_with_a_key_counts_once():
    from lib import tempdir
    n = Node().start()
    path = os.path.join(tempdir(), "in.txt")
    with open(path, "w") as f:
        f.write("to be or not to be\n")
    url = f"http://127.0.0.1:{n.port}"
    r1 = ctl("--node", url, "upload", path, "--key", "ctl-1")
    r2 = ctl("--node", url, "upload", path, "--key", "ctl-1")
    assert r1.returncode == 0 and r2.returncode == 0, (r1.stderr, r2.stderr)
    assert "replayed" not in r1.stdout and "replayed  true" in r2.stdout, \
        (r1.stdout, r2.stdout)
    assert n.count("to", "be") == {"to": 2, "be": 2}
    # a key the node refuses is a usage error, before any request
    r = ctl("--node", url, "upload", path, "--key", "two words")
    assert r.returncode == 2 and "--key" in r.stderr, r
    assert n.count("to") == {"to": 2}


def test_memdbctl_upload_through_a_failover_counts_once():
    # The leader's worker stops right after applying the upload (the
    # record is in its log and replicated, the answer never sent); then the
    # whole leader is killed.  memdbctl, given every node, retries with
    # the same key on the others until the new leader answers: a replay.
    need_faults()
    from lib import tempdir
    c = Cluster(3, workers=2)
    leader = c.wait_leader()
    path = os.path.join(tempdir(), "big.txt")
    words = 50000
    with open(path, "w") as f:
        for i in range(words // 5):
            f.write(f"w{i % 997} alpha beta gamma delta\n")
    nodes = ",".join(f"http://127.0.0.1:{n.port}" for n in c.nodes)
    leader.fault("upload.applied", "stop", process="worker")
    import subprocess
    from lib import MEMDBCTL
    p = subprocess.Popen([MEMDBCTL, "--node", nodes, "upload", path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    leader.wait_for(lambda: leader.fault_fired("upload.applied") == 1,
                    what="the worker stopped after applying")
    lsn = leader.get("/api/v1/status")["lsn"]
    for n in c.nodes:
        n.wait_for(lambda: n.get("/api/v1/status")["lsn"] == lsn,
                   what="the record replicated")
    leader.kill()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "replayed  true" in out, (out, err)
    assert "same Idempotency-Key" in err, err
    table = c.wait_converged()
    assert table["alpha"] == words // 5 and table["delta"] == words // 5, \
        {k: table[k] for k in ("alpha", "delta")}
    print(f"# {err.count('try ')} failed tries before the answer")
