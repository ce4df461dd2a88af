#!/usr/bin/env python3
"""bench/run.py - memdb measured against Redis and nginx, side by side, in
one run on this machine.

Absolute numbers on a shared machine are noise; every scenario reports
memdb's figure, the yardstick's figure measured in the same run, and their
ratio.  Results go to bench/results/<date>-<host>.{md,json} and PNG charts
(gnuplot).  See doc/performance.md for how to read them.

  bench/run [-d SECONDS] [-s SCENARIO,...] [-b BUILDDIR] [--full]

Scenarios: reads uploads keys bulk mixed top memory fsync scaling
recovery cluster
(default: all; --full uses the large sizes: 50M words, 20 kills).
"""
import argparse
import http.client
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

LINE = ("the quick brown fox jumps over the lazy dog while the small cat "
        "sleeps under the old red table near the warm kitchen fire and the "
        "end")
assert len(LINE.split()) == 27

LUA_SPLIT = ("for w in string.gmatch(ARGV[1], '%S+') do "
             "redis.call('HINCRBY', KEYS[1], w, 1) end return 1")

TARGETS = {
    "reads vs nginx": (">=", 1.0),
    "uploads vs nginx": (">=", 0.8),
    "uploads vs redis lua": (">=", 6.0),
    "bulk vs single-process limit": (">=", 0.8),
    "memory per word vs redis": ("<=", 0.7),
    "fsync always vs no": (">=", 0.5),
    "keyed uploads vs unkeyed": (">=", 0.9),
    "top vs redis zrevrange": (">=", 0.5),
    "top 1000 vs redis zrevrange": (">=", 0.5),
    "reads p99 under top": ("<=", 1.5),
}

# every request its own Idempotency-Key: thread id and a counter (the
# unkeyed runs send the same header under another name, so that wrk does
# the same work for both)
KEYED = """
local n, threads = 0, 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "text/plain",
                    ["HEADER"] = "bench-RUN-" .. tid .. "-" .. n},
                    wrk.body)
end
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    """The tests' port picker (tests/e2e/lib.py): never the same port
    twice, never one from the ephemeral range."""
    e2e = os.path.join(TOP, "tests", "e2e")
    if e2e not in sys.path:
        sys.path.insert(0, e2e)
    import lib
    return lib.free_port()


def wait_http(port, path="/healthz", timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


def http_json(port, method, path, body=None, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else None


class Memdb:
    def __init__(self, b, tmp, workers, extra=None, name="m"):
        self.dir = tempfile.mkdtemp(dir=tmp, prefix=name)
        self.port = free_port()
        cfg = {
            "node": {"id": name, "data_dir": os.path.join(self.dir, "data")},
            "http": {"listen": f"127.0.0.1:{self.port}", "workers": workers,
                     "max_body": "256MiB"},
            "log": {"activity": os.path.join(self.dir, "activity.log"),
                    "level": "warn"},
            "persistence": {"snapshot_every": "off"},
        }
        for sec, kv in (extra or {}).items():
            cfg.setdefault(sec, {}).update(kv)
        self.cfg = cfg
        self.path = os.path.join(self.dir, "memdb.yaml")
        self.bin = os.path.join(b, "memdbd")
        self.proc = None

    def write_cfg(self):
        with open(self.path, "w") as f:
            for sec, kv in self.cfg.items():
                f.write(f"{sec}:\n")
                for k, v in kv.items():
                    if isinstance(v, list):
                        v = "[" + ", ".join(v) + "]"
                    f.write(f"  {k}: {json.dumps(v) if isinstance(v, str) and ' ' in v else v}\n")

    def start(self):
        self.write_cfg()
        self.err = open(os.path.join(self.dir, "memdbd.log"), "ab")
        self.proc = subprocess.Popen([self.bin, "-c", self.path],
                                     stdout=self.err, stderr=self.err,
                                     start_new_session=True)
        wait_http(self.port, timeout=120)
        return self

    def status(self):
        return http_json(self.port, "GET", "/api/v1/status")[1]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


class Nginx:
    def __init__(self, tmp, workers, body):
        self.dir = tempfile.mkdtemp(dir=tmp, prefix="nginx")
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes {workers};
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log {self.dir}/access.log;
    client_body_buffer_size 64k;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{self.port};
        default_type application/json;
        location / {{ return 200 '{body}\\n'; }}
    }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", self.dir],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_http(self.port, "/")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Redis:
    def __init__(self, tmp):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(dir=tmp, prefix="redis")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--maxmemory", "0"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        for _ in range(100):
            if self.cli("PING").strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cli(self, *args, stdin=None):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args],
                           capture_output=True, text=True, input=stdin)
        return r.stdout

    def used_memory(self):
        for line in self.cli("INFO", "memory").splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":")[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "JSON {\\"rps\\": %f, \\"p50\\": %d, \\"p99\\": %d, \\"p999\\": %d, "
    .. "\\"non2xx\\": %d, \\"errors\\": %d}\\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def wrk(tmp, url, seconds, conns, script=""):
    path = os.path.join(tmp, f"wrk{random.randrange(1 << 30)}.lua")
    with open(path, "w") as f:
        f.write(script + WRK_DONE)
    r = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "-s",
                        path, url], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("JSON "):
            return json.loads(line[5:])
    raise RuntimeError(f"wrk failed: {r.stdout} {r.stderr}")


def post_script(body):
    return (f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            'wrk.headers["Content-Type"] = "text/plain"\n')


def redis_bench(port, conns, seconds_hint, *cmd, pipeline=1, n=None):
    n = n or 100000
    r = subprocess.run(["redis-benchmark", "-p", str(port), "-c", str(conns),
                        "-n", str(n), "-P", str(pipeline), "--csv", *cmd],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) >= 2:
            try:
                return float(parts[1])
            except ValueError:
                continue
    raise RuntimeError(f"redis-benchmark failed: {r.stdout} {r.stderr}")


# ---- scenarios ------------------------------------------------------------

class Bench:
    def __init__(self, a):
        self.a = a
        self.b = os.path.abspath(a.builddir)
        self.tmp = tempfile.mkdtemp(prefix="memdb-bench-")
        self.rows = []
        self.extra = {}
        self.ncpu = os.cpu_count() or 1

    def row(self, scenario, unit, memdb, yard_name, yard, key=None,
            inverse=False):
        ratio = (memdb / yard) if yard else None
        target = TARGETS.get(key) if key else None
        ok = None
        if target and ratio is not None:
            ok = ratio >= target[1] if target[0] == ">=" else \
                ratio <= target[1]
        self.rows.append({"scenario": scenario, "unit": unit,
                          "memdb": memdb, "yardstick": yard_name,
                          "yardstick_value": yard, "ratio": ratio,
                          "target": f"{target[0]} {target[1]}" if target
                          else "", "met": ok})
        log(f"  {scenario}: memdb {memdb:.1f} {unit}, {yard_name} "
            f"{yard if yard is None else round(yard, 1)}, ratio "
            f"{ratio if ratio is None else round(ratio, 2)}")

    def memdb(self, workers=None, extra=None, name="m"):
        return Memdb(self.b, self.tmp, workers or self.ncpu, extra,
                     name).start()

    def reads(self):
        m = self.memdb()
        http_json(m.port, "POST", "/api/v1/upload", b"hello " * 1000)
        body = json.dumps({"hello": 1000}, separators=(",", ":"))
        n = Nginx(self.tmp, self.ncpu, body)
        r = Redis(self.tmp)
        r.cli("HSET", "words", "hello", "1000")
        d, c = self.a.duration, self.a.connections
        mm = wrk(self.tmp, f"http://127.0.0.1:{m.port}/api/v1/wordcount"
                 "?word=hello", d, c)
        nn = wrk(self.tmp, f"http://127.0.0.1:{n.port}/wc", d, c)
        rr = redis_bench(r.port, c, d, "HGET", "words", "hello", n=300000)
        self.row("GET wordcount vs nginx return 200", "req/s", mm["rps"],
                 "nginx", nn["rps"], "reads vs nginx")
        self.row("GET wordcount vs redis HGET", "req/s", mm["rps"],
                 "redis HGET", rr)
        m.stop(), n.stop(), r.stop()

    def uploads(self):
        m = self.memdb()
        n = Nginx(self.tmp, self.ncpu, '{"words":27}')
        r = Redis(self.tmp)
        sha = r.cli("SCRIPT", "LOAD", LUA_SPLIT).strip()
        d, c = self.a.duration, self.a.connections
        mm = wrk(self.tmp, f"http://127.0.0.1:{m.port}/api/v1/upload", d, c,
                 post_script(LINE))
        nn = wrk(self.tmp, f"http://127.0.0.1:{n.port}/upload", d, c,
                 post_script(LINE))
        rl = redis_bench(r.port, c, d, "EVALSHA", sha, "1", "words", LINE,
                         n=100000)
        # one HINCRBY per word, the 27 of an upload pipelined
        rh = redis_bench(r.port, c, d, "HINCRBY", "words2", "w", "1",
                         pipeline=27, n=1000000) / 27
        self.row("POST 27-word line vs nginx POST", "uploads/s", mm["rps"],
                 "nginx", nn["rps"], "uploads vs nginx")
        self.row("POST 27-word line vs redis EVALSHA split+HINCRBY",
                 "uploads/s", mm["rps"], "redis lua", rl,
                 "uploads vs redis lua")
        self.row("POST 27-word line vs redis 27 HINCRBY (pipelined)",
                 "uploads/s", mm["rps"], "redis hincrby", rh)
        self.extra["upload_non2xx"] = mm["non2xx"]
        m.stop(), n.stop(), r.stop()

    def keys(self):
        """Uploads with an Idempotency-Key each vs without, interleaved
        (A B A B, the median of each), and the memory a remembered key
        takes vs the same answer kept in Redis (SET key answer EX)."""
        m = self.memdb()
        url = f"http://127.0.0.1:{m.port}/api/v1/upload"
        d, c = self.a.duration, self.a.connections
        plain, keyed = [], []
        def script(header, run):
            return post_script(LINE) + KEYED.replace("RUN", str(run)) \
                .replace("HEADER", header)
        for run in range(3):
            plain.append(wrk(self.tmp, url, d, c,
                             script("X-Request-Id", run))["rps"])
            k = wrk(self.tmp, url, d, c, script("Idempotency-Key", run))
            assert k["non2xx"] == 0, k
            keyed.append(k["rps"])
        st = m.status()["idempotency"]
        assert st["replays"] == 0 and st["conflicts"] == 0, st
        m.stop()
        self.row("POST 27-word line with an Idempotency-Key vs without",
                 "uploads/s", statistics.median(keyed), "no key",
                 statistics.median(plain), "keyed uploads vs unkeyed")
        self.extra["keys_remembered"] = st["keys"]
        self.extra["keys_runs"] = {"plain": plain, "keyed": keyed}
        # memory: the table is allocated for max_keys at start; Redis
        # holds the same 128-bit key and answer as a string with a TTL
        per_m = st["bytes"] / st["max_keys"]
        r = Redis(self.tmp)
        base, count = r.used_memory(), 200000
        cmds = []
        for i in range(count):
            k = f"idem:{i:032x}"
            v = '{"words":27,"distinct":21,"lsn":%d}' % i
            cmds.append(f"*5\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n"
                        f"${len(v)}\r\n{v}\r\n$2\r\nEX\r\n$5\r\n86400"
                        "\r\n")
        subprocess.run(["redis-cli", "-p", str(r.port), "--pipe"],
                       input="".join(cmds).encode(), capture_output=True)
        per_r = (r.used_memory() - base) / count
        r.stop()
        self.row("memory per remembered Idempotency-Key", "bytes", per_m,
                 "redis SET key answer EX", per_r)

    def gen(self, size, vocab, name):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            subprocess.run([os.path.join(self.b, "bench", "genload"),
                            str(size), str(vocab)], stdout=f, check=True)
        return path

    def bulk(self):
        size = 32 << 20
        path = self.gen(size, 1000000, "bulk.txt")
        lim = json.loads(subprocess.run(
            [os.path.join(self.b, "bench", "wclimit"), path],
            capture_output=True, text=True, check=True).stdout)
        # the same count with memdb's batched aggregate (agg_push): the
        # stricter yardstick
        limb = json.loads(subprocess.run(
            [os.path.join(self.b, "bench", "wclimit"), "-b", path],
            capture_output=True, text=True, check=True).stdout)
        best = None
        for _ in range(3):
            m = self.memdb(extra={"persistence": {"fsync": "no"}})
            with open(path, "rb") as f:
                body = f.read()
            t0 = time.monotonic()
            st, ans = http_json(m.port, "POST", "/api/v1/upload", body)
            dt = time.monotonic() - t0
            assert st == 200 and ans["words"] == lim["words"], ans
            best = dt if best is None else min(best, dt)
            m.stop()
        mbs = size / best / 1e6
        self.row("bulk ingest of 32 MB (Zipf, 1M vocabulary)", "MB/s", mbs,
                 "single-process wc", size / lim["seconds"] / 1e6,
                 "bulk vs single-process limit")
        self.row("bulk ingest of 32 MB vs a batched single-process count",
                 "MB/s", mbs, "single-process wc -b",
                 size / limb["seconds"] / 1e6)
        self.extra["bulk_words_per_s"] = lim["words"] / best
        self.extra["bulk_limit_words_per_s"] = lim["words"] / lim["seconds"]

    def mixed(self):
        m = self.memdb()
        words = LINE.split()
        http_json(m.port, "POST", "/api/v1/upload", LINE.encode())
        script = (f"local body = {json.dumps(LINE)}\n"
                  "local words = {" + ",".join(json.dumps(w) for w in words)
                  + "}\n"
                  "request = function()\n"
                  "  if math.random() < 0.1 then\n"
                  "    return wrk.format('POST', '/api/v1/upload', nil, body)\n"
                  "  end\n"
                  "  return wrk.format('GET', '/api/v1/wordcount?word=' .. "
                  "words[math.random(#words)])\nend\n")
        mm = wrk(self.tmp, f"http://127.0.0.1:{m.port}/", self.a.duration,
                 self.a.connections, script)
        n = Nginx(self.tmp, self.ncpu, '{"the":1}')
        nn = wrk(self.tmp, f"http://127.0.0.1:{n.port}/", self.a.duration,
                 self.a.connections, script)
        for p in ("p50", "p99", "p999"):
            self.row(f"mixed 90% reads/10% uploads latency {p}", "us",
                     mm[p], "nginx same mix", nn[p])
        self.row("mixed 90/10 throughput", "req/s", mm["rps"], "nginx",
                 nn["rps"])
        m.stop(), n.stop()

    def top(self):
        """GET /top?n=10 and ?n=1000 on 10M distinct words with a skewed
        head (word r of the first 10,000 counted about 100,000/r more
        times): their rates vs Redis ZREVRANGE on a sorted set of the same
        members and scores, and the p99 of GET wordcount alone vs while a
        /top arrives every 200 ms (issue 17's probe)."""
        import threading
        count, head = 10000000, 10000
        m = self.memdb(extra={"store": {"max_memory": "4GiB"},
                              "persistence": {"fsync": "no"}})
        self.load_distinct(m.port, count)
        extra = {f"w{r - 1:09d}": 100000 // r for r in range(1, head + 1)}
        body = " ".join(" ".join([w] * k) for w, k in extra.items())
        st, ans = http_json(m.port, "POST", "/api/v1/upload", body.encode(),
                            600)
        assert st == 200, ans
        url = f"http://127.0.0.1:{m.port}/api/v1/wordcount?word=w000000007"
        d, c = self.a.duration, 16
        alone = wrk(self.tmp, url, d, c)
        stop, took = threading.Event(), []

        def tops():
            while not stop.is_set():
                t0 = time.monotonic()
                st, _ = http_json(m.port, "GET", "/api/v1/top?n=10")
                assert st == 200
                took.append(time.monotonic() - t0)
                stop.wait(max(0.0, 0.2 - (time.monotonic() - t0)))
        t = threading.Thread(target=tops)
        t.start()
        mixed = wrk(self.tmp, url, d, c)
        stop.set()
        t.join()
        rate = wrk(self.tmp, f"http://127.0.0.1:{m.port}/api/v1/top?n=10",
                   d, c)["rps"]
        rate1k = wrk(self.tmp,
                     f"http://127.0.0.1:{m.port}/api/v1/top?n=1000", d,
                     c)["rps"]
        m.stop()
        shutil.rmtree(m.dir, ignore_errors=True)
        r = Redis(self.tmp)
        for start in range(0, count, 500000):
            cmds = []
            for i in range(start, min(count, start + 500000)):
                w = f"w{i:09d}"
                score = 1 + extra.get(w, 0)
                cmds.append(f"*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n"
                            f"${len(str(score))}\r\n{score}\r\n"
                            f"${len(w)}\r\n{w}\r\n")
            subprocess.run(["redis-cli", "-p", str(r.port), "--pipe"],
                           input="".join(cmds).encode(), capture_output=True)
        rz = redis_bench(r.port, c, d, "ZREVRANGE", "z", "0", "9",
                         "WITHSCORES", n=200000)
        rz1k = redis_bench(r.port, c, d, "ZREVRANGE", "z", "0", "999",
                           "WITHSCORES", n=20000)
        r.stop()
        took.sort()
        self.row("GET /top?n=10 on 10M words vs redis ZREVRANGE", "req/s",
                 rate, "redis zrevrange", rz, "top vs redis zrevrange")
        self.row("GET /top?n=1000 on 10M words vs redis ZREVRANGE 0 999",
                 "req/s", rate1k, "redis zrevrange", rz1k,
                 "top 1000 vs redis zrevrange")
        self.row("reads p99 with a /top every 200 ms vs without (10M words)",
                 "us", mixed["p99"], "reads alone", alone["p99"],
                 "reads p99 under top", inverse=True)
        self.row("GET /top?n=10 on 10M words, median of the probes", "ms",
                 took[len(took) // 2] * 1000 if took else 0, "-", 0)

    def load_distinct(self, port, count, path="/api/v1/upload"):
        batch = 2000000
        for start in range(0, count, batch):
            body = " ".join(f"w{i:09d}" for i in range(
                start, min(count, start + batch))).encode()
            st, ans = http_json(port, "POST", path, body, 600)
            assert st == 200, ans

    def memory_table(self, count, per_default):
        """Memory per distinct word in a table other than default (its
        words carry a 2-byte generation prefix)."""
        m = self.memdb(extra={"store": {"max_memory": "16GiB"},
                              "persistence": {"fsync": "no"}})
        st, ans = http_json(m.port, "POST", "/api/v1/tables",
                            b'{"name": "t"}')
        assert st == 201, ans
        base = m.status()["memory"]["used"]
        self.load_distinct(m.port, count, "/api/v1/tables/t/upload")
        per_t = (m.status()["memory"]["used"] - base) / count
        m.stop()
        shutil.rmtree(m.dir, ignore_errors=True)
        self.row(f"memory per distinct word in a table, {count // 1000000}M "
                 "words", "bytes", per_t, "table default", per_default)

    def redis_distinct(self, r, count):
        batch = 500000
        for start in range(0, count, batch):
            cmds = []
            for i in range(start, min(count, start + batch)):
                w = f"w{i:09d}"
                cmds.append(f"*4\r\n$4\r\nHSET\r\n$5\r\nwords\r\n$"
                            f"{len(w)}\r\n{w}\r\n$1\r\n1\r\n")
            subprocess.run(["redis-cli", "-p", str(r.port), "--pipe"],
                           input="".join(cmds).encode(), capture_output=True)

    def memory(self):
        sizes = [1000000, 10000000] + ([50000000] if self.a.full else [])
        for count in sizes:
            m = self.memdb(extra={"store": {"max_memory": "16GiB"},
                                  "persistence": {"fsync": "no"}})
            base = m.status()["memory"]["used"]
            self.load_distinct(m.port, count)
            st = m.status()
            assert st["distinct"] == count, st
            per_m = (st["memory"]["used"] - base) / count
            m.stop()
            shutil.rmtree(m.dir, ignore_errors=True)
            r = Redis(self.tmp)
            rbase = r.used_memory()
            self.redis_distinct(r, count)
            per_r = (r.used_memory() - rbase) / count
            r.stop()
            self.row(f"memory per distinct word, {count // 1000000}M words",
                     "bytes", per_m, "redis hash", per_r,
                     "memory per word vs redis")
            if count == sizes[0]:
                self.memory_table(count, per_m)

    def fsync(self):
        res = {}
        for mode in ("no", "everysec", "always"):
            m = self.memdb(extra={"persistence": {"fsync": mode}})
            res[mode] = wrk(self.tmp, f"http://127.0.0.1:{m.port}"
                            "/api/v1/upload", self.a.duration,
                            self.a.connections, post_script(LINE))["rps"]
            m.stop()
        self.row("uploads with fsync: always vs no", "uploads/s",
                 res["always"], "fsync: no", res["no"], "fsync always vs no")
        self.row("uploads with fsync: everysec vs no", "uploads/s",
                 res["everysec"], "fsync: no", res["no"])

    def scaling(self):
        for w in range(1, self.ncpu + 1):
            m = self.memdb(workers=w)
            http_json(m.port, "POST", "/api/v1/upload", b"hello")
            g = wrk(self.tmp, f"http://127.0.0.1:{m.port}/api/v1/wordcount"
                    "?word=hello", self.a.duration, self.a.connections)
            p = wrk(self.tmp, f"http://127.0.0.1:{m.port}/api/v1/upload",
                    self.a.duration, self.a.connections, post_script(LINE))
            m.stop()
            n = Nginx(self.tmp, w, '{"hello":1}')
            ng = wrk(self.tmp, f"http://127.0.0.1:{n.port}/",
                     self.a.duration, self.a.connections)
            n.stop()
            self.row(f"scaling: {w} workers, GET wordcount", "req/s",
                     g["rps"], f"nginx {w} workers", ng["rps"])
            self.row(f"scaling: {w} workers, POST upload", "uploads/s",
                     p["rps"], f"nginx {w} workers", ng["rps"])

    def recovery(self):
        d = tempfile.mkdtemp(dir=self.tmp, prefix="rec")
        words, size = (10000000, 1 << 30) if self.a.full else \
            (2000000, 256 << 20)
        subprocess.run([os.path.join(self.b, "bench", "gendata"), d,
                        str(words), str(size)], check=True,
                       capture_output=True)
        m = Memdb(self.b, self.tmp, self.ncpu, {
            "store": {"max_memory": "16GiB"}}, "rec")
        m.cfg["node"]["data_dir"] = d
        t0 = time.monotonic()
        m.start()
        wall = time.monotonic() - t0
        st = m.status()["recovery"]
        m.stop()
        self.row(f"recovery of {words // 1000000}M words + "
                 f"{size >> 20} MiB of segments", "s", st["ms"] / 1000,
                 "wall time to ready", wall)
        t0 = time.monotonic()
        m2 = Memdb(self.b, self.tmp, self.ncpu, {
            "store": {"max_memory": "16GiB"}}, "rec2")
        m2.cfg["node"]["data_dir"] = d
        m2.start()
        t1 = time.monotonic()
        st, snap = http_json(m2.port, "POST", "/api/v1/admin/snapshot",
                             timeout=600)
        self.row("snapshot (compaction) of that data dir", "s",
                 time.monotonic() - t1, "recovery", t1 - t0)
        m2.stop()

    def cluster(self):
        sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
        os.environ["MEMDB_BUILDDIR"] = self.b
        import lib
        importlib_reload(lib)
        lag = self.replication_lag(lib)
        self.row("replication lag p50 (leader answer to replica applied)",
                 "ms", lag[0], "", None)
        self.row("replication lag p99", "ms", lag[1], "target 5 ms", 5.0)
        kills = 20 if self.a.full else 5
        for probe, tmo in (("100ms", "50ms"), ("200ms", "100ms"),
                           ("500ms", "250ms")):
            times = self.failover_times(lib, probe, tmo, kills)
            self.row(f"failover, probe {probe}: median of {kills} kills",
                     "s", statistics.median(times),
                     "redis sentinel detection (default)", 30.0)
            self.row(f"failover, probe {probe}: max", "s", max(times),
                     "redis sentinel detection (default)", 30.0)
        self.catch_up(lib)
        lib.cleanup()

    def replication_lag(self, lib):
        c = lib.Cluster(3, workers=1)
        leader, rep = c.nodes[0], c.nodes[1]
        load = subprocess.Popen(
            ["wrk", "-t1", "-c8", f"-d{self.a.duration + 2}s", "-s",
             self.write_script(post_script(LINE)),
             f"http://127.0.0.1:{leader.port}/api/v1/upload"],
            stdout=subprocess.DEVNULL)
        lc = http.client.HTTPConnection("127.0.0.1", leader.port)
        rc = http.client.HTTPConnection("127.0.0.1", rep.port)
        lags = []
        end = time.monotonic() + self.a.duration
        i = 0
        while time.monotonic() < end:
            lc.request("POST", "/api/v1/upload", body=f"probe{i}")
            r = lc.getresponse()
            lsn = json.loads(r.read())["lsn"]
            t0 = time.monotonic()
            rc.request("GET", f"/api/v1/wordcount?word=probe{i}&min_lsn="
                       f"{lsn}&timeout_ms=5000")
            r = rc.getresponse()
            r.read()
            lags.append((time.monotonic() - t0) * 1000)
            i += 1
        load.wait()
        lags.sort()
        for n in c.nodes:
            n.kill()
        return lags[len(lags) // 2], lags[int(len(lags) * 0.99)]

    def write_script(self, s):
        path = os.path.join(self.tmp, f"s{random.randrange(1 << 30)}.lua")
        with open(path, "w") as f:
            f.write(s)
        return path

    def failover_times(self, lib, probe, tmo, kills):
        c = lib.Cluster(3, workers=1, probe=probe, timeout=tmo)
        out = []
        for _ in range(kills):
            leader = c.wait_leader(timeout=60)
            t0 = time.monotonic()
            leader.kill()
            while True:
                done = False
                for n in c.alive():
                    try:
                        st, _, _ = n.request("POST", "/api/v1/upload",
                                             b"probe", timeout=1)
                    except OSError:
                        continue
                    if st == 200:
                        done = True
                        break
                if done:
                    break
                time.sleep(0.005)
            out.append(time.monotonic() - t0)
            leader.start()
            c.wait_members(timeout=60)
        for n in c.nodes:
            n.kill()
        return out

    def catch_up(self, lib):
        c = lib.Cluster(2, workers=1)
        leader, rep = c.nodes
        rep.kill()
        path = self.gen(60 << 20, 1000000, "catchup.txt")
        with open(path, "rb") as f:
            body = f.read()
        t0 = time.monotonic()
        st, ans = http_json(leader.port, "POST", "/api/v1/upload", body)
        ingest = time.monotonic() - t0
        target = ans["lsn"]
        t0 = time.monotonic()
        rep.start()
        while http_json(rep.port, "GET", "/api/v1/status")[1]["cluster"][
                "applied_lsn"] < target:
            time.sleep(0.01)
        catch = time.monotonic() - t0
        self.row(f"catch-up of a replica {ans['words'] // 1000000}M words "
                 "behind", "s", catch, "leader's own ingest", ingest)
        for n in c.nodes:
            n.kill()

    # ---- report ------------------------------------------------------------

    def report(self):
        day = time.strftime("%Y-%m-%d", time.gmtime())
        host = platform.node()
        out = os.path.join(HERE, "results")
        os.makedirs(out, exist_ok=True)
        base = os.path.join(out, f"{day}-{host}")
        meta = {"date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                "host": host, "cpus": self.ncpu,
                "duration_s": self.a.duration,
                "connections": self.a.connections, "extra": self.extra}
        with open(base + ".json", "w") as f:
            json.dump({"meta": meta, "rows": self.rows}, f, indent=1)
        with open(base + ".md", "w") as f:
            f.write(f"# memdb benchmark, {meta['date']}, {host}\n\n")
            f.write(f"{self.ncpu} CPUs; wrk -t2 -c{self.a.connections} "
                    f"-d{self.a.duration}s on loopback; every yardstick "
                    "measured in the same run.\n\n")
            f.write("| scenario | memdb | yardstick | value | ratio | "
                    "target | met |\n|---|---|---|---|---|---|---|\n")
            for r in self.rows:
                yv = "" if r["yardstick_value"] is None else \
                    f"{r['yardstick_value']:.1f}"
                ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
                met = {True: "yes", False: "**no**", None: ""}[r["met"]]
                f.write(f"| {r['scenario']} | {r['memdb']:.1f} {r['unit']} "
                        f"| {r['yardstick']} | {yv} | {ratio} | "
                        f"{r['target']} | {met} |\n")
            if self.extra:
                f.write("\n" + json.dumps(self.extra) + "\n")
        self.charts(base)
        log(f"results: {base}.md")
        return base

    def charts(self, base):
        if shutil.which("gnuplot") is None:
            log("gnuplot missing: no charts")
            return
        rows = [r for r in self.rows if r["ratio"] is not None]
        data = os.path.join(self.tmp, "ratios.dat")
        with open(data, "w") as f:
            for i, r in enumerate(rows):
                f.write(f"{i} {r['ratio']:.3f} \"{r['scenario'][:38]}\"\n")
        gp = f"""set terminal pngcairo size 1200,{200 + 28 * len(rows)}
set output '{base}-ratios.png'
set title 'memdb / yardstick, same run'
set style fill solid 0.6
set boxwidth 0.7
set yrange [-0.5:{len(rows) - 0.5}]
set xlabel 'ratio'
set ytics nomirror
set grid xtics
unset key
plot '{data}' using ($2/2):1:($2/2):(0.35):ytic(3) with boxxyerror
"""
        subprocess.run(["gnuplot"], input=gp, text=True)


def importlib_reload(mod):
    import importlib
    importlib.reload(mod)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-d", "--duration", type=int, default=5)
    ap.add_argument("-c", "--connections", type=int, default=50)
    ap.add_argument("-s", "--scenarios", default="all")
    ap.add_argument("-b", "--builddir", default=os.path.join(TOP,
                                                             "build-bench"))
    ap.add_argument("--full", action="store_true")
    a = ap.parse_args()
    for tool in ("wrk", "nginx", "redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} is missing (bench/run installs it)")
    b = Bench(a)
    names = ["reads", "uploads", "keys", "bulk", "mixed", "top", "memory",
             "fsync", "scaling", "recovery", "cluster"]
    chosen = names if a.scenarios == "all" else a.scenarios.split(",")
    for n in chosen:
        log(f"== {n}")
        t0 = time.monotonic()
        try:
            getattr(b, n)()
        except Exception as e:    # noqa: BLE001 - report and go on
            log(f"  {n} failed: {e!r}")
            b.extra[f"{n}_error"] = repr(e)
        log(f"  ({time.monotonic() - t0:.0f}s)")
    b.report()
    shutil.rmtree(b.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
