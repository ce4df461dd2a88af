"""Helpers for the end-to-end tests: temp dirs, free ports, starting and
stopping memdbd, and small HTTP clients (http.client, and raw sockets for
the cases a well-behaved client cannot produce)."""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

BUILDDIR = os.environ.get("MEMDB_BUILDDIR", os.getcwd())
SRCDIR = os.environ.get("MEMDB_SRCDIR",
                        os.path.dirname(os.path.dirname(
                            os.path.dirname(os.path.abspath(__file__)))))
MEMDBD = os.path.join(BUILDDIR, "memdbd")
MEMDBCTL = os.path.join(BUILDDIR, "memdbctl")

_nodes = []
_dirs = []


class Skip(Exception):
    """Raised by a test that cannot run here (printed as TAP # SKIP)."""


def _fault_build():
    """True when memdbd was built with --enable-fault-injection."""
    try:
        with open(os.path.join(BUILDDIR, "config.h")) as f:
            return "#define MEMDB_FAULT_INJECTION 1" in f.read()
    except OSError:
        return False


FAULTS = _fault_build()


def need_faults():
    if not FAULTS:
        raise Skip("memdbd built without --enable-fault-injection")

# Every HTTP exchange made through Node.request and raw() is appended to
# this file, one JSON object a line, for the contract test
# (tests/contract/check.mjs checks each response against
# swagger/openapi.yaml).  Unset: nothing is recorded.
CONTRACT_LOG = os.environ.get("MEMDB_CONTRACT_LOG")
CONTRACT_BODY_MAX = 256 << 10        # longer bodies are not kept
_contract_lock = threading.Lock()


def record(method, target, status, headers, body):
    """Records one exchange in CONTRACT_LOG (method None: a request that
    did not parse).  Never fails a test."""
    if not CONTRACT_LOG:
        return
    try:
        path, _, query = (target or "").partition("?")
        e = {"method": method, "path": path, "query": query,
             "status": status,
             "headers": {k.lower(): v for k, v in headers.items()}}
        if len(body) > CONTRACT_BODY_MAX:
            e["truncated"] = len(body)
        else:
            try:
                e["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                e["body_hex"] = body.hex()
        line = json.dumps(e) + "\n"
        with _contract_lock, open(CONTRACT_LOG, "a") as f:
            f.write(line)
    except Exception:  # noqa: BLE001 - recording must not break a test
        pass


def _split_requests(data):
    """(method, target) of each request in data, in order, as far as
    they parse (Content-Length or chunked bodies)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            break
        out.append((parts[0].decode("latin-1"), parts[1].decode("latin-1")))
        hdrs = {}
        for line in lines[1:]:
            k, sep, v = line.partition(b":")
            if not sep:
                return out                 # answered 400, then closed
            hdrs[k.strip().lower()] = v.strip()
        if hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
            while True:
                size, sep, rest = rest.partition(b"\r\n")
                n = int(size.split(b";")[0], 16)
                rest = rest[n + 2:]
                if n == 0:
                    break
            data = rest
        else:
            data = rest[int(hdrs.get(b"content-length", b"0")):]
    return out


def record_raw(sent, got):
    """Records the exchanges of a raw connection: requests sent, bytes
    received (answers to requests that did not parse get method None)."""
    if not CONTRACT_LOG or not got.startswith(b"HTTP/"):
        return
    try:
        reqs = _split_requests(sent)
    except (ValueError, IndexError):
        reqs = []
    try:
        resps = parse_responses(got, [m for m, _ in reqs])
    except (ValueError, IndexError):
        return
    for i, (status, hdrs, body) in enumerate(resps):
        method, target = reqs[i] if i < len(reqs) else (None, None)
        record(method, target, status, hdrs, body)


def tempdir(prefix="memdb-e2e-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _dirs.append(d)
    return d


_clusters = []


def check_leaders():
    """Fails if any Cluster of this test saw two leaders in one epoch."""
    try:
        for c in _clusters:
            c.assert_one_leader_per_epoch()
    finally:
        _clusters.clear()


def cleanup(keep_on_failure=True):
    """Stops every node of the test; returns the temp dirs.  A clean stop
    (SIGTERM) first, so that a daemon built with --enable-coverage writes
    its counters and one built with --enable-asan checks for leaks; then
    SIGKILL for whatever is left."""
    for n in _nodes:
        n.terminate()
    for n in _nodes:
        n.kill()
    _nodes.clear()
    _clusters.clear()
    dirs = list(_dirs)
    _dirs.clear()
    return dirs


def discard(dirs):
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def dump_logs(d):
    for name in ("memdbd.log",):
        p = os.path.join(d, name)
        if os.path.exists(p):
            with open(p, errors="replace") as f:
                lines = f.read().splitlines()[-30:]
            for line in lines:
                print(f"#   {name}: {line}")


_ports_given = set()
_port_rng = random.Random()


def _port_range():
    """Where to draw ports: below the kernel's ephemeral range, so that
    no outgoing connection takes a port between this call and the daemon's
    bind; the whole unprivileged range if that leaves too little."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    return (10000, low - 1) if low > 20000 else (1024, 65535)


_PORTS = _port_range()


def free_port():
    """A port free for TCP and UDP at the time of the call, never one this
    process handed out before (nodes bind theirs only when they start)."""
    for _ in range(1000):
        port = _port_rng.randint(*_PORTS)
        if port in _ports_given:
            continue
        ok = True
        for k in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, k)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port")


def yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(yaml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def write_config(path, sections):
    with open(path, "w") as f:
        for sec, keys in sections.items():
            f.write(f"{sec}:\n")
            for k, v in keys.items():
                f.write(f"  {k}: {yaml_value(v)}\n")


class Node:
    """One memdbd in its own temp dir, on a free loopback port."""

    def __init__(self, node_id="n1", workers=2, **sections):
        self.dir = tempdir()
        self.id = node_id
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self.cfg = {
            "node": {"id": node_id, "data_dir": self.data},
            "http": {"listen": f"127.0.0.1:{self.port}",
                     "workers": workers},
            "log": {"file": "-", "level": "info",
                    "activity": os.path.join(self.dir, "activity.log")},
            "store": {"max_memory": "256MiB"},
        }
        for sec, keys in sections.items():
            self.cfg.setdefault(sec, {}).update(keys)
        self.cfg_path = os.path.join(self.dir, "memdb.yaml")
        self.log_path = os.path.join(self.dir, "memdbd.log")
        self.proc = None
        self.host = "127.0.0.1"  # where its HTTP listens
        self.prefix = []         # run memdbd under this (ip netns exec NS)
        _nodes.append(self)

    def start(self, wait=True, extra_args=()):
        write_config(self.cfg_path, self.cfg)
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([*self.prefix, MEMDBD, "-c",
                                      self.cfg_path, *extra_args],
                                     stdout=self.logf, stderr=self.logf,
                                     start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"memdbd exited {self.proc.returncode}"
                                     f": {self.log()[-2000:]}")
            try:
                st, _, _ = self.request("GET", "/healthz", timeout=1)
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("memdbd did not become ready")

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection(self.host, self.port,
                                       timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            st, hdrs, data = r.status, dict(r.getheaders()), r.read()
            record(method, path, st, hdrs, data)
            return st, hdrs, data
        finally:
            c.close()

    def json(self, method, path, body=None, headers=None, expect=200):
        st, hdrs, data = self.request(method, path, body, headers)
        assert st == expect, f"{method} {path}: {st} {data[:300]!r}"
        return json.loads(data)

    def get(self, path, expect=200):
        return self.json("GET", path, expect=expect)

    def upload(self, text, expect=200, query=""):
        body = text.encode() if isinstance(text, str) else text
        return self.json("POST", "/api/v1/upload" + query, body,
                         {"Content-Type": "text/plain"}, expect=expect)

    def count(self, *words):
        from urllib.parse import quote
        q = "&".join("word=" + quote(w, safe="") for w in words)
        return self.get("/api/v1/wordcount?" + q)

    def allwords(self, query=""):
        return self.get("/api/v1/allwords" + query)

    def _admin(self, method, path, timeout=10):
        """A request that is not part of the public API (not recorded for
        the contract test)."""
        c = http.client.HTTPConnection(self.host, self.port,
                                       timeout=timeout)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def fault(self, point, action, process="any", skip=0, count=1):
        """Arms a fault point (see src/core/fault.h); action "off" disarms."""
        need_faults()
        st, body = self._admin(
            "POST", f"/api/v1/admin/fault?point={point}&action={action}"
            f"&process={process}&skip={skip}&count={count}")
        assert st == 200, (st, body)

    def fault_fired(self, point):
        """How often an armed point fired (0 if not armed).  Asked again
        if the connection breaks: the worker that answers may be the one
        the fault kills."""
        for attempt in range(5):
            try:
                st, body = self._admin("GET", "/api/v1/admin/fault")
                break
            except (OSError, http.client.HTTPException):
                if attempt == 4:
                    raise
                time.sleep(0.05)
        assert st == 200, (st, body)
        for f in json.loads(body):
            if f["point"] == point:
                return f["fired"]
        return 0

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, timeout=30):
        """SIGTERM and wait: returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def terminate(self, grace=5):
        """SIGTERM the master (after SIGCONT to the group, for a test that
        stopped a process) and wait up to grace seconds for it to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass

    def kill(self):
        """SIGKILL the whole process group (master, workers, all)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        wait_group_gone(self.proc.pid)
        self.logf.close()

    def children(self, title="memdbd: worker"):
        """pids of the master's children whose title starts with title."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")[0].decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.proc.pid and cmd.startswith(title):
                out.append(int(pid))
        return sorted(out)

    def wait_for(self, pred, timeout=10, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


def wait_group_gone(pgid, timeout=10):
    """Waits until no live process is left in process group pgid (the
    killed workers must have closed the listen socket)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                alive = True
                break
        if not alive:
            return
        time.sleep(0.02)


def raw(port, data, timeout=5, shut=False):
    """Sends bytes on a new connection, returns all bytes until the server
    closes or timeout passes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        record_raw(data, out)
        return out
    finally:
        s.close()


def recv_all(s):
    """Every byte until the peer closes (or a timeout of the socket)."""
    got = b""
    while True:
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            return got  # closed with our bytes unread: what came is all
        if not chunk:
            return got
        got += chunk


def parse_responses(data, methods=()):
    """Splits a byte stream into (status, headers, body) responses
    (Content-Length or chunked bodies).  methods: the methods of the
    requests, in order, as far as known; the answer to a HEAD request ends
    at its blank line."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if status == 100:
            data = rest
            continue
        if len(out) < len(methods) and methods[len(out)] == "HEAD":
            body, data = b"", rest
        elif "content-length" in hdrs:
            n = int(hdrs["content-length"])
            body, data = rest[:n], rest[n:]
        elif hdrs.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                n = int(size_line, 16)
                if n == 0:
                    rest = rest[2:]
                    break
                body += rest[:n]
                rest = rest[n + 2:]
            data = rest
        else:
            body, data = rest, b""
        out.append((status, hdrs, body))
    return out


class Cluster:
    """N memdbd nodes on loopback: n1 founds the cluster, the others get n1
    as their seed.  Each has its own temp dir and ports."""

    def __init__(self, n=3, workers=1, probe="100ms", timeout="50ms",
                 start=True, **sections):
        _clusters.append(self)
        self.nodes = []
        for i in range(1, n + 1):
            node = Node(node_id=f"n{i}", workers=workers)
            node.gport = free_port()
            node.rport = free_port()
            node.cfg["cluster"] = {
                "gossip": f"127.0.0.1:{node.gport}",
                "replication": f"127.0.0.1:{node.rport}",
                "probe_interval": probe,
                "probe_timeout": timeout,
            }
            for sec, keys in sections.items():
                node.cfg.setdefault(sec, {}).update(keys)
            self.nodes.append(node)
        for node in self.nodes[1:]:
            node.cfg["cluster"]["seeds"] = [
                f"127.0.0.1:{self.nodes[0].gport}"]
        if start:
            self.nodes[0].start()
            self.wait_leader([self.nodes[0]])
            for node in self.nodes[1:]:
                node.start()
            self.wait_members()

    def alive(self):
        return [n for n in self.nodes if n.proc and n.proc.poll() is None]

    def view(self, node):
        return node.get("/api/v1/cluster/nodes")

    def wait_leader(self, nodes=None, timeout=15, exclude=()):
        """Waits until every node in nodes names the same live leader;
        returns that Node."""
        nodes = nodes or self.alive()

        def agreed():
            ids = set()
            for n in nodes:
                try:
                    ids.add(self.view(n)["leader"])
                except (OSError, AssertionError, ValueError):
                    return None
            if len(ids) != 1 or "" in ids or ids & set(exclude):
                return None
            lid = ids.pop()
            leader = self.by_id(lid)
            if leader.proc is None or leader.proc.poll() is not None:
                return None
            st = leader.get("/api/v1/status")
            return leader if st["role"] == "leader" else None
        try:
            return self.nodes[0].wait_for(agreed, timeout=timeout,
                                          what="an agreed leader")
        except AssertionError as e:
            raise AssertionError(f"{e}; the views:\n"
                                 + self.describe_views(nodes)) from None

    def describe_views(self, nodes):
        """One line a node: the leader it names and how it sees each
        member (role, state, epoch, lsn), for a failure's message."""
        lines = []
        for n in nodes:
            try:
                v = self.view(n)
                ms = " ".join(f"{m['id']}:{m['role']}/{m['state']}"
                              f"/e{m['epoch']}/lsn{m['lsn']}"
                              for m in v["nodes"])
                lines.append(f"  {n.id} names {v['leader'] or '-'}: {ms}")
            except (OSError, AssertionError, ValueError) as e:
                lines.append(f"  {n.id}: {e}")
        return "\n".join(lines)

    def wait_members(self, timeout=15):
        want = len(self.nodes)

        def full():
            for n in self.alive():
                v = self.view(n)
                alive = [m for m in v["nodes"] if m["state"] == "alive"]
                if len(alive) != want:
                    return False
            return True
        self.nodes[0].wait_for(full, timeout=timeout, what="all members")

    def by_id(self, nid):
        return next(n for n in self.nodes if n.id == nid)

    def wait_converged(self, timeout=20):
        """Waits until every live node holds the same words, the same
        tables (names, profiles, sizes) and LSN, and no node still has a
        divergent tail to hand over."""
        def same():
            tables, lsns = [], set()
            for n in self.alive():
                st = n.get("/api/v1/status")
                if st.get("cluster", {}).get("pending_merges", 0):
                    return False
                st, hdrs, body = n.request("GET", "/api/v1/allwords")
                st2, _, listing = n.request("GET", "/api/v1/tables")
                if st != 200 or st2 != 200:
                    return False
                tables.append((json.loads(body), json.loads(listing)))
                lsns.add(hdrs.get("X-Memdb-LSN"))
            return len(lsns) == 1 and all(t == tables[0] for t in tables)
        try:
            self.nodes[0].wait_for(same, timeout=timeout,
                                   what="convergence")
        except AssertionError:
            self.explain_divergence()
            raise
        return self.alive()[0].allwords()

    def explain_divergence(self):
        """Prints how the live nodes differ (a convergence that timed
        out)."""
        tables = {}
        for n in self.alive():
            try:
                st = n.get("/api/v1/status")
                print(f"# {n.id}: role {st['role']} lsn {st['lsn']} "
                      f"epoch {st['epoch']} cluster {st.get('cluster')}")
                tables[n.id] = n.allwords()
            except (OSError, AssertionError, ValueError) as e:
                print(f"# {n.id}: {e}")
        if not tables:
            return
        base_id, base = next(iter(tables.items()))
        for nid, t in tables.items():
            diff = {k: (base.get(k), t.get(k)) for k in set(base) | set(t)
                    if base.get(k) != t.get(k)}
            if diff:
                print(f"# {base_id} vs {nid}: {len(diff)} words differ, "
                      f"e.g. {sorted(diff.items())[:8]}")

    def leaders_per_epoch(self):
        """From every node's log: epoch -> set of node ids that became
        leader in it."""
        import re
        out = {}
        for n in self.nodes:
            try:
                text = n.log()
            except OSError:
                continue
            for m in re.finditer(r"became leader for epoch (\d+) of "
                                 r"cluster (\w+)", text):
                key = (m.group(2), int(m.group(1)))
                out.setdefault(key, set()).add(n.id)
        return out

    def assert_one_leader_per_epoch(self):
        for (cluster, epoch), ids in self.leaders_per_epoch().items():
            assert len(ids) == 1, \
                f"epoch {epoch} of cluster {cluster} had leaders {ids}"


class Ledger(threading.Thread):
    """A client that keeps a ledger (Jepsen's counter checker): it uploads
    "MARKER shared" (plus padding words) to whichever node leads,
    following 307s, one upload at a time, each with a marker never used
    before.  attempted holds every marker sent, acked those answered 200;
    an upload with no answer or an error is indeterminate and is not
    retried (a retry would be a second attempt of the same marker)."""

    def __init__(self, nodes, tag, pad=0, timeout=3, shared="shared"):
        super().__init__(daemon=True)
        self.nodes = list(nodes)
        self.tag = tag
        self.shared = shared
        self.pad = " ".join(f"p{tag}x{j}" for j in range(pad))
        self.timeout = timeout
        self.stop = threading.Event()
        self.attempted, self.acked = [], []
        self.errors = 0
        self.unfinished = []  # KeyedLedger: never answered

    path = "/api/v1/upload"  # where to upload (a table's: .../upload)
    query = ""    # of every upload
    replays = 0   # answers with Idempotent-Replayed: true

    def post(self, host, port, body, key=None):
        c = http.client.HTTPConnection(host, port, timeout=self.timeout)
        try:
            c.request("POST", self.path + self.query, body=body,
                      headers={"Idempotency-Key": key} if key else {})
            r = c.getresponse()
            r.read()
            if r.getheader("Idempotent-Replayed") == "true":
                self.replays += 1
            return r.status, r.getheader("Location")
        finally:
            c.close()

    def one(self, marker, target):
        """Sends marker once (following 307s); returns the target to use
        next and "acked" or "failed" (indeterminate: not retried)."""
        body = f"{marker} {self.shared} {self.pad}".encode()
        for _ in range(5):
            try:
                st, loc = self.post(*target, body)
            except (OSError, http.client.HTTPException):
                st, loc = None, None
            if st == 200:
                return target, "acked"
            if st == 307 and loc:
                target = location_target(loc)
                continue
            self.errors += 1
            n = random.choice(self.nodes)
            time.sleep(0.02)
            return (n.host, n.port), "failed"
        return target, "failed"  # redirected five times

    def run(self):
        target = (self.nodes[0].host, self.nodes[0].port)
        i = 0
        while not self.stop.is_set():
            marker = f"m{self.tag}-{i}"
            i += 1
            self.attempted.append(marker)
            target, outcome = self.one(marker, target)
            if outcome == "acked":
                self.acked.append(marker)
            elif outcome == "unfinished":
                self.unfinished.append(marker)
                return


def location_target(loc):
    """(host, port) of a 307's Location."""
    h, _, p = loc.split("/")[2].rpartition(":")
    return h.strip("[]"), int(p)


class KeyedLedger(Ledger):
    """A Ledger whose uploads carry an Idempotency-Key (the marker): each
    one is retried with its key, on any node and following 307s, until it
    is answered 200, so that the ledger is exact: every marker attempted is
    acknowledged and counted exactly once (check_ledger(exact=True)).
    Once stopped it finishes the upload in hand, for up to `finish`
    seconds."""

    def __init__(self, nodes, tag, finish=60, query="", **kw):
        super().__init__(nodes, tag, **kw)
        self.finish = finish
        self.query = query  # "?wait=1": a cut-off leader cannot answer
        self.retries = 0

    def one(self, marker, target):
        """Sends marker until it is answered 200: (target to use next,
        "acked"), or "unfinished" if stopped more than finish s ago."""
        body = f"{marker} {self.shared} {self.pad}".encode()
        key = f"key-{marker}"
        stopped_at = None
        while True:
            try:
                st, loc = self.post(*target, body, key)
            except (OSError, http.client.HTTPException):
                st, loc = None, None
            if st == 200:
                return target, "acked"
            assert st != 422, f"{marker}: 422 for its own key"
            if st == 307 and loc:
                target = location_target(loc)
                continue
            self.retries += 1
            if self.stop.is_set():
                stopped_at = stopped_at or time.monotonic()
                if time.monotonic() - stopped_at > self.finish:
                    return target, "unfinished"
            if st != 409:
                n = random.choice(self.nodes)
                target = (n.host, n.port)
            time.sleep(0.05)


def ledgers_start(nodes, n=3, pad=0, prefix="", keyed=False, **kw):
    """n Ledger clients (KeyedLedger if keyed, kw its options), tags
    prefix0.. (give each round its own prefix: markers must never
    repeat)."""
    cls = KeyedLedger if keyed else Ledger
    ls = [cls(nodes, f"{prefix}{t}", pad=pad, shared=f"shared{prefix}", **kw)
          for t in range(n)]
    for x in ls:
        x.start()
    return ls


def ledgers_stop(ls):
    for x in ls:
        x.stop.set()
    for x in ls:
        x.join(30)


def check_ledger(table, ledgers, exact=False):
    """acknowledged <= applied <= attempted, each applied exactly once, and
    the shared word counted once per applied upload; exact (KeyedLedger):
    acknowledged == applied == attempted.  Applied are the words of the
    table shaped like the markers of these ledgers' tags (m<tag>-<n>), so
    that a marker counted but never sent shows.  Returns (acked,
    applied)."""
    import re
    acked = {m for x in ledgers for m in x.acked}
    attempted = {m for x in ledgers for m in x.attempted}
    marker = re.compile(r"^m([A-Za-z0-9]*)-[0-9]+$")
    tags = {x.tag for x in ledgers} | {m[1:m.rindex("-")] for m in attempted}
    applied = {k for k in table
               if (t := marker.match(k)) is not None and t.group(1) in tags}
    lost = acked - applied
    assert not lost, f"{len(lost)} acknowledged uploads lost, e.g. " \
                     f"{sorted(lost)[:5]}"
    extra = applied - attempted
    assert not extra, f"{len(extra)} counted never sent: {sorted(extra)[:5]}"
    twice = {m: table[m] for m in applied if table[m] != 1}
    assert not twice, f"{len(twice)} counted more than once, e.g. " \
                      f"{list(twice.items())[:5]}"
    if exact:
        unfinished = [m for x in ledgers for m in x.unfinished]
        assert not unfinished, f"never answered: {unfinished[:5]}"
        assert acked == attempted, \
            f"{len(attempted - acked)} attempted, not acknowledged"
        assert applied == attempted, \
            f"{len(attempted - applied)} attempted, not counted: " \
            f"{sorted(attempted - applied)[:5]}"
    shared = ledgers[0].shared
    assert table.get(shared, 0) == len(applied), \
        f"{shared} {table.get(shared, 0)}, applied {len(applied)}"
    return len(acked), len(applied)


def first_write(nodes, exclude=(), timeout=15):
    """(seconds, node) until one of nodes, other than those whose id is in
    exclude, takes an upload."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for n in nodes:
            if n.id in exclude or n.proc is None or n.proc.poll() is not None:
                continue
            try:
                st, _, _ = n.request("POST", "/api/v1/upload", b"probe",
                                     timeout=1)
            except OSError:
                continue
            if st == 200:
                return time.monotonic() - t0, n
        time.sleep(0.01)
    raise AssertionError(f"no upload taken within {timeout}s")
