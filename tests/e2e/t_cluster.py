"""Cluster, part 1: gossip membership, replication, read-only replicas."""
import glob
import http.client
import json
import os
import random
import signal
import socket
import struct
import threading
import time

from lib import Cluster, Node, free_port, parse_responses, raw


def test_three_nodes_form_from_seeds():
    c = Cluster(3)
    leader = c.wait_leader()
    assert leader.id == "n1"
    for n in c.nodes:
        v = c.view(n)
        roles = {m["id"]: m["role"] for m in v["nodes"]}
        assert roles == {"n1": "leader", "n2": "replica", "n3": "replica"}, v
        assert v["leader"] == "n1"
        me = [m for m in v["nodes"] if m["self"]]
        assert me[0]["id"] == n.id
        ids = {m["id"]: m for m in v["nodes"]}
        assert ids["n2"]["http"] == f"127.0.0.1:{c.nodes[1].port}"
        assert ids["n2"]["gossip"] == f"127.0.0.1:{c.nodes[1].gport}"
    c.assert_one_leader_per_epoch()


def _upload_many(port, tag, n, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(n):
        conn.request("POST", "/api/v1/upload",
                     body=f"{tag}-{i % 50} shared word{i % 7}")
        r = conn.getresponse()
        r.read()
        out.append(r.status)
    conn.close()


def test_concurrent_uploads_converge_everywhere():
    c = Cluster(3)
    statuses = []
    ts = [threading.Thread(target=_upload_many,
                           args=(c.nodes[0].port, f"t{t}", 150, statuses))
          for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert statuses.count(200) == 600
    table = c.wait_converged()
    assert table["shared"] == 600
    for n in c.nodes:
        st = n.get("/api/v1/status")
        assert st["cluster"]["applied_lsn"] == 600, (n.id, st)
    def acked():
        v = c.view(c.nodes[0])
        return all(m["lag"] == 0 and m["acked_lsn"] == 600
                   for m in v["nodes"] if m["role"] == "replica")
    c.nodes[0].wait_for(acked, timeout=5, what="acks of every replica")


def test_replica_restart_catches_up_by_partial_resync():
    c = Cluster(3)
    n1, n2, _ = c.nodes
    for i in range(50):
        n1.upload(f"before{i} x")
    c.wait_converged()
    n2.kill()
    for i in range(50):
        n1.upload(f"during{i} x")
    n2.start()
    table = c.wait_converged()
    assert table["x"] == 100
    assert "partial resync" in n1.log()
    assert "full sync" not in n1.log()


def fill_while_down(c):
    """With n2 at lsn 1, kills it, writes 80 uploads of 200 new words (many
    64KiB segments) to n1 and snapshots n1; returns the snapshot answer,
    n1's first segment LSN and its number of segments."""
    n1, n2 = c.nodes
    n1.upload("old words here")
    c.wait_converged()
    n2.kill()
    for i in range(80):
        n1.upload(" ".join(f"bulk{i}-{j}" for j in range(200)))
    snap = n1.json("POST", "/api/v1/admin/snapshot")
    assert snap["lsn"] == 81
    segs = sorted(glob.glob(os.path.join(n1.data, "log", "*.seg")))
    return snap, int(os.path.basename(segs[0])[:20]), len(segs)


def test_leader_keeps_the_log_a_down_replica_needs():
    # keep_segments 0: only the replica backlog keeps covered segments
    c = Cluster(2, persistence={"segment_size": "64KiB", "keep_segments": 0,
                                "snapshot_every": "off"})
    n1, n2 = c.nodes
    snap, first, nsegs = fill_while_down(c)
    assert first <= 2, first          # n2 is at lsn 1: lsn 2 on are kept
    assert nsegs > 3, nsegs
    assert "replica_backlog" not in n1.log()
    n2.start()
    table = c.wait_converged(timeout=30)
    assert table["old"] == 1 and table["bulk79-199"] == 1
    assert "partial resync" in n1.log()
    assert "full sync" not in n1.log()
    # once n2 caught up, the next snapshot may remove them
    n1.upload("after")
    c.wait_converged()
    n1.wait_for(lambda: all(m["lsn"] >= 82 for m in c.view(n1)["nodes"]),
                timeout=10, what="n2's lsn in n1's view")
    n1.json("POST", "/api/v1/admin/snapshot")
    segs = sorted(glob.glob(os.path.join(n1.data, "log", "*.seg")))
    assert int(os.path.basename(segs[0])[:20]) > 81, segs


def test_replica_far_behind_gets_full_sync():
    # a backlog of one segment cannot hold what n2 missed
    c = Cluster(2, persistence={"segment_size": "64KiB", "keep_segments": 0,
                                "snapshot_every": "off",
                                "replica_backlog": "64KiB"})
    n1, n2 = c.nodes
    snap, first, _ = fill_while_down(c)
    assert first > 2, first            # the replica's next LSN is gone
    assert "persistence.replica_backlog" in n1.log()
    n1.upload("after the snapshot")
    n2.start()
    table = c.wait_converged(timeout=30)
    assert table["old"] == 1 and table["bulk79-199"] == 1
    assert table["after"] == 1
    assert "full sync" in n1.log()
    # its own log was started over after the snapshot
    st = n2.get("/api/v1/status")
    assert st["persistence"]["snapshot_lsn"] == 81
    n2.kill()
    n2.start()
    assert n2.allwords() == table


def test_brand_new_node_meets_the_cluster():
    c = Cluster(2)
    n1 = c.nodes[0]
    for i in range(30):
        n1.upload(f"m{i} common")
    n3 = Node(node_id="n3", workers=1)
    n3.gport = free_port()
    n3.rport = free_port()
    n3.cfg["cluster"] = {"gossip": f"127.0.0.1:{n3.gport}",
                         "replication": f"127.0.0.1:{n3.rport}",
                         "probe_interval": "100ms", "probe_timeout": "50ms"}
    n3.start()
    c.nodes.append(n3)
    st, _, body = n1.request("POST", f"/api/v1/cluster/meet?addr=127.0.0.1:"
                             f"{n3.gport}")
    assert st == 200, body
    c.wait_members()
    table = c.wait_converged()
    assert table["common"] == 30
    n3.wait_for(lambda: c.view(n3)["leader"] == "n1", timeout=5,
                what=f"n3 to follow n1: {c.view(n3)}")
    c.assert_one_leader_per_epoch()


def test_write_to_replica_is_redirected():
    c = Cluster(3)
    n1, n2, _ = c.nodes
    st, hdrs, body = n2.request("POST", "/api/v1/upload?wait=1", b"hi there")
    assert st == 307, body
    assert hdrs["Location"] == (f"http://127.0.0.1:{n1.port}"
                                "/api/v1/upload?wait=1")
    err = json.loads(body)
    assert err["leader"] == "n1" and err["location"] == hdrs["Location"]
    assert n2.allwords() == {}
    # reads are served by replicas, with the LSN applied there
    n1.upload("hi there")
    c.wait_converged()
    st, hdrs, body = n2.request("GET", "/api/v1/wordcount?word=hi")
    assert st == 200 and json.loads(body) == {"hi": 1}
    assert hdrs["X-Memdb-LSN"] == "1"


def test_upload_without_body_to_a_replica_gets_one_answer():
    """One answer per request: a replica's 307 to an upload that has no
    body comes when the request is complete, and the connection stays
    open; one with a body is answered before it and closed."""
    c = Cluster(2)
    n1, n2 = c.nodes
    up = b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n"
    reqs = (up + b"Content-Length: 0\r\n\r\n" + up + b"\r\n" +
            b"POST /api/v1/upload?wait=1 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 0\r\n\r\n"
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = parse_responses(raw(n2.port, reqs))
    assert [r[0] for r in out] == [307, 307, 307, 200], out
    for st, hdrs, body in out[:3]:
        assert "connection" not in hdrs, hdrs
        assert hdrs["location"].startswith(f"http://127.0.0.1:{n1.port}/")
        assert json.loads(body)["leader"] == "n1"
    # with a body: 307 at once, then close (the body is not read)
    out = parse_responses(raw(n2.port, up + b"Content-Length: 5\r\n\r\n"
                              b"mkQ01GET /healthz HTTP/1.1\r\n\r\n"))
    assert [r[0] for r in out] == [307], out
    assert out[0][1]["connection"] == "close"
    assert n1.count("mkQ01") == {"mkQ01": 0}
    assert n2.get("/api/v1/status")["lsn"] == 0


def test_wait_for_replicas_and_min_lsn():
    c = Cluster(3)
    n1, n2, n3 = c.nodes
    r = n1.upload("acked by two", query="?wait=2&timeout_ms=5000")
    assert r["replicas"] == 2
    # read your write on a replica
    st, _, body = n2.request("GET", f"/api/v1/wordcount?word=acked&min_lsn="
                             f"{r['lsn']}&timeout_ms=2000")
    assert st == 200 and json.loads(body) == {"acked": 1}
    # more replicas than exist: 504 after the timeout, naming how many
    t0 = time.monotonic()
    st, _, body = n1.request("POST", "/api/v1/upload?wait=5&timeout_ms=300",
                             b"too many")
    dt = time.monotonic() - t0
    assert st == 504, body
    assert "2 of 5" in json.loads(body)["error"]
    assert 0.25 < dt < 3, dt
    # a min_lsn far ahead times out
    st, _, body = n3.request("GET", "/api/v1/wordcount?word=x&min_lsn=999"
                             "&timeout_ms=200")
    assert st == 504, body
    st, _, _ = n1.request("POST", "/api/v1/upload?wait=x", b"bad")
    assert st == 400


def test_malformed_datagrams_and_frames_are_dropped():
    c = Cluster(2)
    n1, n2 = c.nodes
    rng = random.Random(3)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    valid_prefix = struct.pack("<IBBHIBBHQQ", 0x5053474d, 1, 1, 300, 1, 0, 0,
                               0, 0, 0)
    for i in range(300):
        if i % 3 == 0:
            d = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 600)))
        elif i % 3 == 1:
            d = valid_prefix + bytes(rng.getrandbits(8)
                                     for _ in range(rng.randint(0, 400)))
        else:
            d = valid_prefix[:rng.randint(0, len(valid_prefix))]
        s.sendto(d, ("127.0.0.1", n1.gport))
        if i % 20 == 19:
            time.sleep(0.005)       # stay under the socket's receive buffer
    # replication port: garbage, a bad header, a truncated frame
    for junk in [b"GET / HTTP/1.1\r\n\r\n", b"\x00" * 100,
                 struct.pack("<IBBHIIQ", 0x5045524d, 1, 99, 0, 0, 0, 1),
                 struct.pack("<IBBHIIQ", 0x5045524d, 1, 2, 0, 50000, 0, 1)]:
        try:
            raw(n1.rport, junk, timeout=1)
        except OSError:
            pass
    time.sleep(0.5)
    st = n1.get("/api/v1/status")["cluster"]
    assert st["gossip_bad"] >= 280, st     # UDP: a few may still be lost
    assert st["repl_bad"] >= 2, st
    n1.upload("still works")
    table = c.wait_converged()
    assert table == {"still": 1, "works": 1}
    assert all(m["state"] == "alive" for m in c.view(n1)["nodes"])


def test_replicator_restarted_while_workers_serve():
    c = Cluster(3)
    n1, n2, _ = c.nodes
    n1.upload("before the crash")
    c.wait_converged()
    rp = n2.children("memdbd: replicator")[0]
    os.kill(rp, signal.SIGKILL)
    # the workers keep serving reads while the replicator is gone
    assert n2.count("crash") == {"crash": 1}
    n2.wait_for(lambda: n2.children("memdbd: replicator")
                and n2.children("memdbd: replicator")[0] != rp,
                what="a new replicator")
    n1.upload("after the crash")
    table = c.wait_converged()
    assert table["crash"] == 2 and table["after"] == 1
    assert "replicator 63" in n2.log() and "killed by signal 9" in n2.log()


def test_restarted_node_rejoins_without_its_seeds():
    c = Cluster(3)
    n1, n2, n3 = c.nodes
    n1.upload("remembered members")
    c.wait_converged()
    n3.kill()
    del n3.cfg["cluster"]["seeds"]           # only data_dir/cluster/state
    n1.upload("while n3 was away")
    n3.start()
    c.wait_members()
    table = c.wait_converged()
    assert table["away"] == 1
    assert {m["id"] for m in c.view(n3)["nodes"]} == {"n1", "n2", "n3"}
