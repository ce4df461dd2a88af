"""Deleting what was counted in the table default: a reset of a word
(DELETE /api/v1/tables/default/words/{w}, one REC_FORGET record) and a
retract of a text (POST /api/v1/tables/default/retract, REC_RETRACT,
refused whole with 409 if a count would go below zero).  Each is one
record: logged, replicated, snapshotted, recovered, shown by memdbctl log
print; a retract takes an Idempotency-Key; a leader answers either only
once a majority holds it, and a hand-over drops one from a divergent tail
(it was never acknowledged)."""
import json
import os
import subprocess
from urllib.parse import quote

from lib import MEMDBCTL, Cluster, Node, need_faults, tempdir

HDR = "Idempotency-Key"
RETRACT = "/api/v1/tables/default/retract"


def forget(n, word, query=""):
    return n.request("DELETE", "/api/v1/tables/default/words/"
                     + quote(word, safe="") + query)


def retract(n, text, key=None, query=""):
    body = text.encode() if isinstance(text, str) else text
    st, h, data = n.request("POST", RETRACT + query, body,
                            {HDR: key} if key else {})
    return st, h, json.loads(data) if data else None


def ctl(*args):
    return subprocess.run([MEMDBCTL, *args], capture_output=True, text=True,
                          timeout=60)


def log_records(n):
    r = ctl("log", "print", n.data, "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_forget_resets_one_word_with_one_record():
    n = Node().start()
    n.upload("a a a b c")
    st, _, data = forget(n, "a")
    assert st == 200, data
    assert json.loads(data) == {"word": "a", "forgotten": 3, "lsn": 2}
    assert n.allwords() == {"b": 1, "c": 1}
    assert n.count("a") == {"a": 0}
    st, _, data = forget(n, "a")  # nothing left: 404, no record
    assert st == 404 and b"no count" in data, (st, data)
    st, _, data = forget(n, "never")
    assert st == 404, (st, data)
    # a word with a space, '+' and a character beyond ASCII, %-escaped
    n.upload("x+y caf\u00e9")
    assert json.loads(forget(n, "x+y")[2])["forgotten"] == 1
    assert json.loads(forget(n, "caf\u00e9")[2])["forgotten"] == 1
    st, _, data = n.request("DELETE", "/api/v1/tables/default/words/%ff")
    assert st == 400 and b"UTF-8" in data, (st, data)
    st, _, data = n.request("DELETE", "/api/v1/tables/default/words/%zz")
    assert st == 400, (st, data)
    st, h, _ = n.request("GET", "/api/v1/tables/default/words/b")
    assert st == 405 and h.get("Allow") == "DELETE", (st, h)
    n.upload("a")  # counts again from 0
    assert n.allwords() == {"a": 1, "b": 1, "c": 1}
    n.stop()
    recs = log_records(n)
    assert [r["lsn"] for r in recs] == list(range(1, 7)), recs
    assert [r["type"] for r in recs] == [
        "upload", "forget", "upload", "forget", "forget", "upload"], recs
    assert recs[1]["words"] == {"a": -3}, recs[1]
    r = ctl("log", "print", n.data)
    assert '"a"x-3' in r.stdout, r.stdout


def test_retract_takes_back_a_text_or_refuses_it_whole():
    n = Node(http={"max_body": 1024}).start()
    n.upload("the cat sat on the mat")
    st, _, a = retract(n, "the cat the")
    assert st == 200 and a == {"words": 3, "distinct": 2, "lsn": 2}, a
    assert n.allwords() == {"sat": 1, "on": 1, "mat": 1}
    # one word short: nothing is taken, the answer names the word
    st, _, err = retract(n, "sat on on")
    assert st == 409 and '"on"' in err["error"] and err["count"] == 1, err
    st, _, err = retract(n, "mat dog")
    assert st == 409 and '"dog"' in err["error"] and err["count"] == 0, err
    st, _, err = retract(n, b"sat \xff")
    assert st == 400 and err["offset"] == 4, err
    assert n.allwords() == {"sat": 1, "on": 1, "mat": 1}
    st, _, a = retract(n, "")
    assert st == 200 and a["words"] == 0, a
    st, _, err = retract(n, "sat " * 400)
    assert st == 413 and err["limit"] == 1024, err
    assert n.get("/api/v1/status")["words"] == 3
    n.kill()
    n.start()
    assert n.allwords() == {"sat": 1, "on": 1, "mat": 1}


def test_a_retract_with_a_key_counts_once():
    n = Node().start()
    n.upload("x x x y")
    st, h, first = retract(n, "x", key="r-1")
    assert st == 200 and "Idempotent-Replayed" not in h, (st, h)
    for _ in range(2):
        st, h, again = retract(n, "x", key="r-1")
        assert st == 200 and again == first, again
        assert h.get("Idempotent-Replayed") == "true", h
    assert n.count("x") == {"x": 2}
    # the key of an upload is not a retract's, even with the same body
    st, _, _ = n.request("POST", "/api/v1/upload", b"y", {HDR: "u-1"})
    assert st == 200
    st, _, err = retract(n, "y", key="u-1")
    assert st == 422, (st, err)
    assert n.count("x", "y") == {"x": 2, "y": 2}


def test_deletes_survive_kill_and_snapshots():
    n = Node(persistence={"fsync": "always"}).start()
    n.upload("a b c d " * 5)
    forget(n, "a")
    retract(n, "b b")
    n.json("POST", "/api/v1/admin/snapshot")
    n.upload("a e")
    retract(n, "c c c c c")  # c goes to 0: absent
    forget(n, "e")
    want = {"a": 1, "b": 3, "d": 5}
    assert n.allwords() == want
    r = ctl("log", "counts", n.data)
    assert json.loads(r.stdout) == want, r.stdout
    n.kill()
    n.start()
    assert n.allwords() == want
    # a snapshot compacted over the deletes holds no word at 0
    snap = n.json("POST", "/api/v1/admin/snapshot")
    assert snap["lsn"] == 6, snap
    n.stop()
    n.start()
    assert n.allwords() == want
    st = n.get("/api/v1/status")
    assert st["words"] == 9 and st["distinct"] == 3, st


def test_a_worker_killed_in_a_retract_is_finished_by_the_master():
    need_faults()
    n = Node(workers=1).start()
    n.upload("p q r " * 3)
    n.fault("upload.applied", "kill", process="worker")
    try:
        retract(n, "p q", key="r-k")
        assert False, "answered"
    except Exception as e:  # noqa: BLE001 - the worker died: no answer
        print(f"# no answer: {type(e).__name__}")
    n.wait_for(lambda: n.request("GET", "/healthz")[0] == 200,
               what="a worker back")
    # the subtract lock the dead worker held is free again
    st, h, a = retract(n, "p q", key="r-k")
    assert st == 200 and h.get("Idempotent-Replayed") == "true", (st, h)
    st, _, _ = retract(n, "r")
    assert st == 200
    assert n.allwords() == {"p": 2, "q": 2, "r": 2}


def test_replicas_apply_deletes_a_majority_holds():
    c = Cluster(3)
    leader = c.wait_leader()
    leader.upload("one two two three three three")
    st, _, a = retract(leader, "three")
    assert st == 200 and a["replicas"] >= 1, a
    st, _, data = forget(leader, "two")
    f = json.loads(data)
    assert st == 200 and f["forgotten"] == 2 and f["replicas"] >= 1, f
    replica = next(n for n in c.nodes if n is not leader)
    st, h, _ = forget(replica, "one")
    assert st == 307 and "Location" in h, (st, h)
    st, h, _ = retract(replica, "one")
    assert st == 307 and "Location" in h, (st, h)
    table = c.wait_converged()
    assert table == {"one": 1, "three": 2}, table


def test_memdbctl_forget_and_retract():
    n = Node().start()
    path = os.path.join(tempdir(), "in.txt")
    with open(path, "w") as f:
        f.write("to be or not to be\n")
    url = f"http://127.0.0.1:{n.port}"
    n.upload("to be or not to be to be")
    r = ctl("--node", url, "retract", path, "--key", "ctl-r")
    assert r.returncode == 0, r.stderr
    r = ctl("--node", url, "retract", path, "--key", "ctl-r")
    assert r.returncode == 0 and "replayed  true" in r.stdout, r.stdout
    assert n.allwords() == {"to": 1, "be": 1}
    r = ctl("--node", url, "retract", path)  # below zero: 409, exit 4
    assert r.returncode == 4 and "below zero" in r.stderr, r
    r = ctl("--node", url, "forget", "to", "be")
    assert r.returncode == 0 and "forgotten" in r.stdout, r
    assert n.allwords() == {}
    r = ctl("--node", url, "forget", "to")
    assert r.returncode == 4, r


def test_a_cut_off_leader_cannot_acknowledge_a_delete_and_drops_it():
    # The leader is cut off from both replicas: its upload (no wait) is
    # acknowledged, its retract and reset are not (504: no majority holds
    # them).  After the heal it hands its tail over: the upload counts on
    # the new leader, the retract and reset are dropped with the tail.
    from t_nemesis import NetLab, index_of
    with NetLab(3) as lab:
        c = lab.cluster()
        leader = c.wait_leader()
        leader.upload("keep keep drop drop", query="?wait=2")
        li = index_of(c, leader)
        lab.cut([li], [i for i in range(1, 4) if i != li])
        assert leader.upload("tail")["words"] == 1
        st, _, err = retract(leader, "keep", query="?timeout_ms=300")
        assert st == 504, (st, err)
        st, _, data = forget(leader, "drop", query="?timeout_ms=300")
        assert st == 504, (st, data)
        assert leader.count("keep", "drop") == {"keep": 1, "drop": 0}
        others = [n for n in c.nodes if n is not leader]
        new = c.wait_leader(others, exclude=(leader.id,), timeout=20)
        new.upload("after")
        lab.heal()
        table = c.wait_converged(timeout=40)
        assert table == {"keep": 2, "drop": 2, "tail": 1, "after": 1}, table
        # a reset on the new leader, then more counts: in its order
        st, _, data = forget(c.wait_leader(), "keep")
        assert st == 200, data
        table = c.wait_converged(timeout=20)
        assert "keep" not in table, table
        c.assert_one_leader_per_epoch()
