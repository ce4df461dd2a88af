"""Ledger-checked tables and deletes under faults: a table other than
default takes ledger uploads (lib.Ledger on /api/v1/tables/{t}/upload:
acknowledged <= applied <= attempted, each applied once, the shared word
equal to the applied count) while another client retracts and resets
other words of that table, whose outcome is known but for the requests
that got no answer, and a third client truncates, drops and creates a
third table and uploads to it.  Through kill -9 of a single node, kill -9
of a leader and a partition of a leader; then every node holds the same
tables, the deleted words have one of the values their acknowledged and
unanswered deletes allow, and the third table holds what a replay of its
client's operations in order allows (TableModel).

And the hand-over of a cut-off leader's tail to a new leader that reset
or retracted the tail's word meanwhile (doc/design.md, "Deletes" and
"Tables"): the tail's increments apply after the new leader's delete,
its own retract and reset are dropped, and an upload of the tail that
the new leader counted already under its Idempotency-Key is not counted
again after the delete."""
import http.client
import itertools
import json
import random
import threading
import time
from urllib.parse import quote

from lib import (MEMDBCTL, Cluster, Ledger, Node, check_ledger,
                 location_target)

T = "/api/v1/tables"
HDR = "Idempotency-Key"


# ---- small helpers ---------------------------------------------------------


def create(n, name, expect=201):
    st, _, data = n.request("POST", T + "?timeout_ms=10000",
                            json.dumps({"name": name}).encode())
    assert st == expect, (n.id, name, st, data)


def up(n, table, text, key=None, query="", expect=200):
    st, _, data = n.request("POST", f"{T}/{table}/upload{query}",
                            text.encode(), {HDR: key} if key else {})
    assert st == expect, (n.id, table, text, st, data)
    return json.loads(data)


def forget(n, table, word, query=""):
    st, _, data = n.request("DELETE", f"{T}/{table}/words/"
                            + quote(word, safe="") + query)
    return st, json.loads(data) if data else None


def retract(n, table, text, query=""):
    st, _, data = n.request("POST", f"{T}/{table}/retract{query}",
                            text.encode())
    return st, json.loads(data) if data else None


def words(n, table):
    return n.get(f"{T}/{table}/allwords")


def table_state(n, table):
    """(exists, allwords) of a table on node n."""
    st, _, data = n.request("GET", f"{T}/{table}/allwords")
    if st == 404:
        return False, {}
    assert st == 200, (n.id, table, st, data)
    return True, json.loads(data)


def tables_of(n):
    return sorted(x["name"] for x in n.get(T))


def wait_all_equal(c, timeout=45):
    """Waits until every live node names the same leader, has no tail
    left to hand over, and holds the same LSN, the same tables and the
    same allwords of each (lib's Cluster.wait_converged compares the table
    default only, and a cut-off leader whose tail was all in other tables
    can be at the new leader's LSN by chance); returns {table: allwords}."""
    def state(n):
        st = n.get("/api/v1/status")
        if st.get("cluster", {}).get("pending_merges", 0):
            return None
        tabs = {t: table_state(n, t)[1] for t in tables_of(n)}
        again = n.get("/api/v1/status")
        if again["lsn"] != st["lsn"]:
            return None
        return c.view(n)["leader"], st["lsn"], tabs

    def same():
        got = []
        for n in c.alive():
            try:
                s = state(n)
            except (OSError, AssertionError, ValueError, KeyError):
                return None   # 503 while a replica resynchronizes
            if s is None or not s[0]:
                return None
            got.append(s)
        return got[0][2] if all(g == got[0] for g in got) else None
    try:
        return c.nodes[0].wait_for(same, timeout=timeout,
                                   what="equal tables on every node")
    except AssertionError:
        c.explain_divergence()
        for n in c.alive():
            try:
                print(f"# {n.id}: " + ", ".join(
                    f"{t} {len(table_state(n, t)[1])} words"
                    for t in tables_of(n)))
            except (OSError, AssertionError, ValueError) as e:
                print(f"# {n.id}: {e}")
        raise


class TableLedger(Ledger):
    """lib.Ledger uploading to a table, bounded in count and time."""

    def __init__(self, nodes, tag, table, limit=20000, seconds=60, **kw):
        super().__init__(nodes, tag, **kw)
        self.path = f"{T}/{table}/upload"
        self.limit, self.seconds = limit, seconds

    def run(self):
        target = (self.nodes[0].host, self.nodes[0].port)
        end = time.monotonic() + self.seconds
        for i in range(self.limit):
            if self.stop.is_set() or time.monotonic() > end:
                return
            marker = f"m{self.tag}-{i}"
            self.attempted.append(marker)
            target, outcome = self.one(marker, target)
            if outcome == "acked":
                self.acked.append(marker)


def table_ledgers(nodes, table, n=3, prefix="L"):
    ls = [TableLedger(nodes, f"{prefix}{i}", table, shared=f"shared{prefix}")
          for i in range(n)]
    for x in ls:
        x.start()
    return ls


class OpClient(threading.Thread):
    """One client sending one request at a time, in order, to whichever
    node leads (following 307s), keeping each request's outcome: "ok"
    (answered as asked), "no" (answered that it did not apply: status kept),
    or "?" (no answer, 504 or anything else: may or may not have applied;
    never retried).  A refused connection or a 503 did not apply: sent
    again, to another node, for up to `retry` s."""

    def __init__(self, nodes, timeout=15, retry=15, seconds=60,
                 query=""):
        super().__init__(daemon=True)
        self.nodes = list(nodes)
        self.target = (self.nodes[0].host, self.nodes[0].port)
        self.timeout, self.retry, self.seconds = timeout, retry, seconds
        self.query = query     # of every delete and table operation
        self.stop = threading.Event()
        self.ops = []          # [kind, arg, outcome, status]
        self.error = None

    def _send(self, method, path, body):
        c = http.client.HTTPConnection(*self.target, timeout=self.timeout)
        try:
            c.request(method, path, body=body)
            r = c.getresponse()
            data = r.read()
            return r.status, r.getheader("Location"), data
        finally:
            c.close()

    def _other(self):
        n = random.choice(self.nodes)
        self.target = (n.host, n.port)

    def do(self, kind, arg, method, path, body=None, ok=(200,), no=()):
        """Sends one operation; returns its outcome."""
        op = [kind, arg, "?", None]
        self.ops.append(op)
        end = time.monotonic() + self.retry
        while True:
            try:
                st, loc, _ = self._send(method, path, body)
            except ConnectionRefusedError:
                st, loc = 503, None       # nothing was sent
            except (OSError, http.client.HTTPException) as e:
                op[3] = type(e).__name__
                self._other()
                return "?"
            op[3] = st
            if st == 307 and loc:
                self.target = location_target(loc)
            elif st == 503:
                self._other()
            elif st in ok:
                op[2] = "ok"
                return "ok"
            elif st in no:
                op[2] = "no"
                return "no"
            else:
                self._other()
                return "?"
            if time.monotonic() > end:
                op[2], op[3] = "no", "gave up"  # never applied: not sent
                return "no"
            time.sleep(0.05)

    def run(self):
        try:
            self.work(time.monotonic() + self.seconds)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
            raise

    def count(self, kind, outcome):
        return sum(1 for op in self.ops if op[0] == kind and op[2] == outcome)


class Deleter(OpClient):
    """Retracts "rword" (one at a time) and resets fword<i> (each once,
    each uploaded i + 2 times before), alternately.  Nothing else touches
    these words, so their end values are known but for the unanswered
    requests."""

    R0, NF = 1100, 500

    @classmethod
    def prefill(cls):
        text = ["rword"] * cls.R0
        for i in range(cls.NF):
            text += [f"fword{i}"] * (i + 2)
        return " ".join(text)

    def work(self, end):
        for k in range(2 * self.NF):
            if self.stop.is_set() or time.monotonic() > end:
                return
            if k % 2 == 0:
                self.do("retract", "rword", "POST",
                        f"{T}/t/retract{self.query}", b"rword", no=(409,))
            else:
                self.do("reset", k // 2, "DELETE",
                        f"{T}/t/words/fword{k // 2}{self.query}", no=(404,))
            time.sleep(0.005)

    def check(self, table):
        """The words' values allowed by the outcomes; returns a summary."""
        bad = [op for op in self.ops if op[2] == "no"]
        assert not bad, f"deletes refused: {bad[:5]}"
        ok, unk = self.count("retract", "ok"), self.count("retract", "?")
        r = table.get("rword", 0)
        assert self.R0 - ok - unk <= r <= self.R0 - ok, \
            f"rword {r}: {ok} retracts acknowledged, {unk} unanswered, " \
            f"from {self.R0}"
        outcome = {op[1]: op[2] for op in self.ops if op[0] == "reset"}
        for i in range(self.NF):
            v = table.get(f"fword{i}", 0)
            allowed = {"ok": {0}, "?": {0, i + 2}}.get(outcome.get(i),
                                                       {i + 2})
            assert v in allowed, f"fword{i} {v}, reset {outcome.get(i)}, " \
                                 f"allowed {allowed}"
        return (f"{ok}+{unk}? retracts, {self.count('reset', 'ok')}+"
                f"{self.count('reset', '?')}? resets")


class TableModel(OpClient):
    """Truncates the table z or drops and creates it again (alternately),
    then uploads a few unique words to it, in rounds.  check() replays the
    operations in order, trying both ways for each unanswered one, and
    needs one replay that agrees with every answer and with what z holds
    at the end.  cluster: an unanswered upload may have been applied
    later (a cut-off leader's tail is handed over after the new leader's
    operations), so it may or may not be there whatever came after it."""

    initial = ("zold", "zold2")   # uploaded before

    def __init__(self, nodes, up_query="", cluster=False, **kw):
        super().__init__(nodes, **kw)
        self.up_query, self.cluster = up_query, cluster

    def work(self, end):
        for k in range(300):
            if self.stop.is_set() or time.monotonic() > end:
                return
            if k % 2 == 0:
                self.do("trunc", None, "POST",
                        f"{T}/z/truncate{self.query}", no=(404,))
            else:
                self.do("drop", None, "DELETE", f"{T}/z{self.query}",
                        no=(404,))
                self.create()
            for j in range(4):
                if self.do("up", f"z{k}x{j}", "POST",
                           f"{T}/z/upload{self.up_query}",
                           f"z{k}x{j}".encode(), no=(404,)) == "no":
                    self.create()    # z is gone: its drop applied
                time.sleep(0.003)

    def create(self):
        self.do("create", None, "POST", T + self.query, b'{"name":"z"}',
                ok=(201,), no=(409,))

    def replay(self, choice):
        """(exists, words, optional words) of z after its operations, the
        unanswered table operations applied as choice says; None if an
        answer contradicts it.  In a cluster an answer that something did
        not apply (404, 409) may come from a cut-off leader whose own
        unanswered operations are dropped later: it says nothing of z."""
        exists, held, maybe = True, set(self.initial), set()
        it = iter(choice)
        for kind, arg, outcome, _ in self.ops:
            if kind == "up":
                if outcome == "ok":
                    if not exists:
                        return None
                    held.add(arg)
                elif outcome == "no":
                    if exists and not self.cluster:
                        return None
                elif exists or self.cluster:
                    maybe.add(arg)
                continue
            if outcome == "no":
                # 404: z was not there; 409 (create): it was
                if not self.cluster and (kind == "create") != exists:
                    return None
                continue
            if outcome == "?" and not next(it):
                continue
            if (not exists) if kind == "create" else exists:
                exists = kind != "drop"
                held = set()
                if not self.cluster:
                    maybe = set()
            elif outcome == "ok":
                return None
            # else: unanswered, and would have been refused
        return exists, held, maybe

    def check(self, exists, table):
        gave_up = [op for op in self.ops if op[3] == "gave up"]
        assert not gave_up, f"never sent: {gave_up[:3]}"
        unk = [op for op in self.ops if op[2] == "?" and op[0] != "up"]
        assert len(unk) <= 12, f"{len(unk)} table operations unanswered"
        got = set(table)
        assert all(v == 1 for v in table.values()), \
            {k: v for k, v in table.items() if v != 1}
        for choice in itertools.product((False, True), repeat=len(unk)):
            r = self.replay(choice)
            if r is None:
                continue
            e, held, maybe = r
            if e == exists and held <= got <= held | maybe:
                break
        else:
            for op in self.ops[-40:]:
                print(f"# z op {op}")
            raise AssertionError(
                f"z (exists {exists}, {len(table)} words, e.g. "
                f"{sorted(table)[:6]}) agrees with no replay of its "
                f"{len(self.ops)} operations ({len(unk)} unanswered)")
        clears = sum(1 for op in self.ops if op[0] in ("trunc", "drop")
                     and op[2] == "ok")
        ups = sum(1 for op in self.ops if op[0] == "up" and op[2] == "?")
        return (f"z: {len(self.ops)} operations, {clears} truncates/drops "
                f"acknowledged, {len(unk)} unanswered (and {ups} uploads), "
                f"{len(table)} words")


def setup_tables(n, query=""):
    create(n, "t")
    create(n, "z")
    up(n, "t", Deleter.prefill(), query=query)
    up(n, "z", " ".join(TableModel.initial), query=query)


def start_load(nodes, prefix, up_query="", cluster=False, query=""):
    ls = table_ledgers(nodes, "t", prefix=prefix)
    d = Deleter(nodes, query=query)
    z = TableModel(nodes, up_query=up_query, cluster=cluster,
                   query=query)
    d.start()
    z.start()
    return ls, d, z


def stop_load(ls, d, z):
    for x in ls + [d, z]:
        x.stop.set()
    for x in ls + [d, z]:
        x.join(40)
        assert not x.is_alive(), f"{x} did not stop"
    for x in (d, z):
        assert x.error is None, repr(x.error)


def check_top(n, table, have=None):
    """GET .../top of the table on node n agrees with its allwords (the
    partitions' leaders went through every reset, retract, truncate,
    drop, full sync and recovery of the load)."""
    have = words(n, table) if have is None else have
    for k in (1, 20, 300):
        expect = sorted(have.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        got = n.get(f"{T}/{table}/top?n={k}")
        assert [(x["word"], x["count"]) for x in got] == expect, \
            (n.id, table, k, got[:3], expect[:3])


def check_load(n, ls, d, z, what, t0):
    """Every check of the mixed load on node n's tables."""
    t = words(n, "t")
    check_top(n, "t", t)
    acked, applied = check_ledger(t, ls)
    dsum = d.check(t)
    exists, zw = table_state(n, "z")
    zsum = z.check(exists, zw)
    if exists:
        check_top(n, "z", zw)
    assert n.allwords() == {}, "the table default got words"
    assert acked >= 30, f"only {acked} ledger uploads acknowledged"
    assert d.count("retract", "ok") >= 3 and d.count("reset", "ok") >= 3, \
        d.ops[:10]
    assert sum(1 for op in z.ops if op[0] in ("trunc", "drop")
               and op[2] == "ok") >= 2, z.ops[:10]
    attempted = sum(len(x.attempted) for x in ls)
    print(f"# {what}: {attempted} attempted, {acked} acknowledged, "
          f"{applied} applied once each; {dsum}; {zsum} "
          f"({time.monotonic() - t0:.1f}s)")


# ---- 1. kill -9 of a single node -------------------------------------------


def test_kill9_of_a_node_under_table_uploads_deletes_and_truncates():
    n = Node(workers=2, persistence={"fsync": "always"}).start()
    setup_tables(n)
    t0 = time.monotonic()
    ls, d, z = start_load([n], "k")
    for _ in range(4):
        time.sleep(random.uniform(0.5, 1.0))
        n.kill()
        n.start()
    time.sleep(0.5)
    stop_load(ls, d, z)
    check_load(n, ls, d, z, "4 kill -9 of the node", t0)
    # everything answered is in the log: a kill now changes nothing
    before = {t: table_state(n, t) for t in ("t", "z", "default")}
    names = tables_of(n)
    n.kill()
    n.start()
    assert tables_of(n) == names
    assert {t: table_state(n, t) for t in ("t", "z", "default")} == before


# ---- 2. failover of a 3-node cluster ---------------------------------------


def test_leader_kill9_under_table_uploads_deletes_and_truncates():
    c = Cluster(3, probe="100ms", timeout="50ms")
    leader = c.wait_leader()
    setup_tables(leader, query="?wait=2")
    wait_all_equal(c)
    t0 = time.monotonic()
    # z's uploads wait for a replica, so that an acknowledged one is never
    # in a divergent tail (handed over after later truncates)
    ls, d, z = start_load(c.nodes, "f", up_query="?wait=1", cluster=True,
                          query="?timeout_ms=3000")
    what = []
    for _ in range(2):
        time.sleep(1.0)
        old = c.wait_leader(timeout=30)
        old.kill()
        new = c.wait_leader([x for x in c.nodes if x is not old],
                            exclude=(old.id,), timeout=20)
        what.append(f"{old.id} -> {new.id}")
        time.sleep(0.7)
        old.start()
    time.sleep(1.0)
    stop_load(ls, d, z)
    c.wait_leader(timeout=30)
    tables = wait_all_equal(c)
    assert sorted(tables) in (["default", "t", "z"], ["default", "t"]), \
        sorted(tables)
    check_load(c.alive()[0], ls, d, z,
               f"kill -9 of the leader twice ({', '.join(what)})", t0)
    c.assert_one_leader_per_epoch()


def test_leader_cut_off_under_table_uploads_deletes_and_truncates():
    from t_nemesis import NetLab, index_of
    with NetLab(3) as lab:
        c = lab.cluster()
        leader = c.wait_leader()
        setup_tables(leader, query="?wait=2")
        wait_all_equal(c)
        t0 = time.monotonic()
        ls, d, z = start_load(c.nodes, "p", up_query="?wait=1", cluster=True,
                              query="?timeout_ms=1500")
        what = []
        for _ in range(2):
            time.sleep(1.0)
            old = c.wait_leader(timeout=30)
            li = index_of(c, old)
            lab.cut([li], [i for i in range(1, 4) if i != li])
            new = c.wait_leader([x for x in c.nodes if x is not old],
                                exclude=(old.id,), timeout=20)
            what.append(f"{old.id} -> {new.id}")
            time.sleep(1.0)   # the old leader keeps taking uploads alone
            lab.heal()
        time.sleep(1.0)
        stop_load(ls, d, z)
        c.wait_leader(timeout=30)
        tables = wait_all_equal(c)
        assert sorted(tables) in (["default", "t", "z"],
                                  ["default", "t"]), sorted(tables)
        check_load(c.alive()[0], ls, d, z,
                   f"the leader cut off twice ({', '.join(what)})", t0)
        for n in c.alive():   # the replicas' leaders too
            check_top(n, "t", tables["t"])
        c.assert_one_leader_per_epoch()


# ---- 3. a tail handed over after the new leader's delete -------------------


def log_records(n):
    import subprocess
    r = subprocess.run([MEMDBCTL, "log", "print", n.data, "--json"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


def cut_leader(lab, c):
    from t_nemesis import index_of
    leader = c.wait_leader()
    li = index_of(c, leader)
    lab.cut([li], [i for i in range(1, 4) if i != li])
    return leader


def test_a_tail_is_handed_over_after_the_new_leaders_reset():
    # The cut-off leader takes "w w v v" and "k2 k2" (with a key) in t,
    # acknowledged without wait; its reset of w and retract of k are not
    # (504).  The new leader resets w (3 -> 0), counts the keyed upload
    # again (the client's retry), resets k2 and finds no v to reset, then
    # counts w once more.  The hand-over: w = 0 + 1 + 2 (the tail's
    # increments after the reset), v = 2, k = 1 (the tail's retract
    # dropped), and k2 absent (the tail's copy of the keyed upload was
    # counted already, and reset).
    from t_nemesis import NetLab
    with NetLab(3) as lab:
        c = lab.cluster()
        leader = c.wait_leader()
        create(leader, "t")
        up(leader, "t", "w w w k", query="?wait=2")
        wait_all_equal(c)
        old = cut_leader(lab, c)
        assert up(old, "t", "w w v v")["words"] == 4
        assert up(old, "t", "k2 k2", key="hk-1")["words"] == 2
        st, data = forget(old, "t", "w", "?timeout_ms=300")
        assert st == 504, (st, data)
        st, data = retract(old, "t", "k", "?timeout_ms=300")
        assert st == 504, (st, data)
        assert words(old, "t") == {"v": 2, "k2": 2}, words(old, "t")
        new = c.wait_leader([x for x in c.nodes if x is not old],
                            exclude=(old.id,), timeout=20)
        assert words(new, "t") == {"w": 3, "k": 1}, words(new, "t")
        assert up(new, "t", "k2 k2", key="hk-1")["words"] == 2
        st, data = forget(new, "t", "w", "?timeout_ms=10000")
        assert st == 200 and data["forgotten"] == 3, (st, data)
        st, data = forget(new, "t", "k2", "?timeout_ms=10000")
        assert st == 200 and data["forgotten"] == 2, (st, data)
        st, data = forget(new, "t", "v", "?timeout_ms=10000")
        assert st == 404, (st, data)
        up(new, "t", "w")
        lsn_reset = new.get("/api/v1/status")["lsn"]
        lab.heal()
        want = {"w": 3, "v": 2, "k": 1}
        tables = wait_all_equal(c, timeout=60)
        assert tables == {"default": {}, "t": want}, tables
        # a reset now takes what every node holds
        leader = c.wait_leader(timeout=30)
        st, data = forget(leader, "t", "w", "?timeout_ms=10000")
        assert st == 200 and data["forgotten"] == 3, (st, data)
        tables = wait_all_equal(c)
        assert tables["t"] == {"v": 2, "k": 1}, tables
        c.assert_one_leader_per_epoch()
        check_handover_order(c, new, lsn_reset, "v", 2)


def check_handover_order(c, new, lsn_delete, word, count):
    """In the new leader's log, the tail's increments (of word, which only
    the tail has) come after the delete it made while the old leader was
    cut off (at or before lsn_delete), and no merge record counts k2."""
    for n in c.nodes:
        n.stop()
    recs = log_records(new)
    has = [(r["lsn"], r.get("type")) for r in recs
           if r.get("words", {}).get(word) == count]
    assert len(has) == 1 and has[0][0] > lsn_delete, (lsn_delete, has)
    print(f"# {new.id}'s log: the tail's {word} at lsn {has[0][0]} "
          f"({has[0][1]}), its delete at or before lsn {lsn_delete}")
    # the tail's keyed upload, counted by the new leader already: only
    # its range mark is handed over
    again = [r for r in recs if r.get("type") == "merge"
             and "k2" in r.get("words", {})]
    assert not again, again


def test_a_tail_is_handed_over_after_the_new_leaders_retract():
    # As above with retracts: the cut-off leader takes "w w v u" and "k2 k2 k2"
    # (keyed), and its retract of all five w is not acknowledged.  The
    # new leader refuses a retract of four w (it holds three), retracts
    # two, counts the keyed upload (retry) and retracts three k2 of its
    # four.  After the hand-over: w = 3 - 2 + 2, k2 = 1 (the tail's copy
    # not counted again), and every node can then retract exactly w's 3.
    from t_nemesis import NetLab
    with NetLab(3) as lab:
        c = lab.cluster()
        leader = c.wait_leader()
        create(leader, "t")
        up(leader, "t", "w w w k2 v", query="?wait=2")
        wait_all_equal(c)
        old = cut_leader(lab, c)
        assert up(old, "t", "w w v u")["words"] == 4
        assert up(old, "t", "k2 k2 k2", key="hk-2")["words"] == 3
        st, data = retract(old, "t", "w w w w w", "?timeout_ms=300")
        assert st == 504, (st, data)
        assert words(old, "t") == {"v": 2, "u": 1, "k2": 4}, \
            words(old, "t")
        new = c.wait_leader([x for x in c.nodes if x is not old],
                            exclude=(old.id,), timeout=20)
        st, data = retract(new, "t", "w w w w", "?timeout_ms=10000")
        assert st == 409 and data["count"] == 3, (st, data)
        st, data = retract(new, "t", "w w", "?timeout_ms=10000")
        assert st == 200, (st, data)
        assert up(new, "t", "k2 k2 k2", key="hk-2")["words"] == 3
        st, data = retract(new, "t", "k2 k2 k2 v", "?timeout_ms=10000")
        assert st == 200, (st, data)
        assert words(new, "t") == {"w": 1, "k2": 1}, words(new, "t")
        lsn_retract = new.get("/api/v1/status")["lsn"]
        lab.heal()
        want = {"w": 3, "k2": 1, "v": 1, "u": 1}
        tables = wait_all_equal(c, timeout=60)
        assert tables == {"default": {}, "t": want}, tables
        leader = c.wait_leader(timeout=30)
        st, data = retract(leader, "t", "w w w w", "?timeout_ms=10000")
        assert st == 409 and data["count"] == 3, (st, data)
        st, data = retract(leader, "t", "w w w", "?timeout_ms=10000")
        assert st == 200, (st, data)
        tables = wait_all_equal(c)
        assert tables["t"] == {"k2": 1, "v": 1, "u": 1}, tables
        c.assert_one_leader_per_epoch()
        check_handover_order(c, new, lsn_retract, "u", 1)
