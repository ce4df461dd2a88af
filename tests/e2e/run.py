#!/usr/bin/env python3
"""Runs the end-to-end tests and prints TAP for automake's tap-driver.

Every test is a function named test_* in a tests/e2e/t_*.py module.  It
gets no arguments and raises (AssertionError or anything else) to fail.

Environment:
  MEMDB_BUILDDIR     where memdbd and memdbctl were built (default: cwd)
  MEMDB_E2E_FILTER   run only tests whose name contains this string
  MEMDB_E2E_KEEP=1   keep the temp dirs of failed tests

Sanitizers (configure --enable-asan): every process a test starts (memdbd,
its forked workers, replicator and snapshot children, memdbctl) inherits
ASAN_OPTIONS/UBSAN_OPTIONS with log_path pointing into a directory of this
run, so a report is a file there whichever process made it and wherever its
stderr went.  A test after which such a file appears fails, and the report
is printed in its TAP diagnostics.  (An exit status alone would not do: the
master restarts a worker that died, and a test may pass regardless.)
"""
import importlib
import os
import shutil
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import lib  # noqa: E402


def collect():
    tests = []
    for name in sorted(os.listdir(HERE)):
        if not (name.startswith("t_") and name.endswith(".py")):
            continue
        mod = importlib.import_module(name[:-3])
        for attr in dir(mod):
            if attr.startswith("test_"):
                fn = getattr(mod, attr)
                tests.append((f"{name[:-3]}.{attr}", fn,
                              fn.__code__.co_firstlineno))
    tests.sort(key=lambda t: (t[0].split(".")[0], t[2]))
    flt = os.environ.get("MEMDB_E2E_FILTER", "")
    wanted = [a for a in sys.argv[1:] if not a.startswith("-")]
    return [t for t in tests if flt in t[0]
            and (not wanted or any(w in t[0] for w in wanted))]


def sanitizer_setup():
    """Sends every sanitizer report of the processes tests start to files
    in a directory of this run; returns it."""
    d = tempfile.mkdtemp(prefix="memdb-e2e-san-")
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        opts = os.environ.get(var, "")
        os.environ[var] = (opts + ":" if opts else "") \
            + f"log_path={d}/report"
    return d


def sanitizer_reports(d):
    """Reports written since the last call (and removes them)."""
    out = []
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        with open(p, errors="replace") as f:
            out.append((name, f.read()))
        os.unlink(p)
    return out


def main():
    tests = collect()
    san_dir = sanitizer_setup()
    print(f"1..{len(tests)}", flush=True)
    failed = 0
    for i, (name, fn, _) in enumerate(tests, 1):
        t0 = time.monotonic()
        skipped = None
        try:
            fn()
            # every test with a cluster: never two leaders in one epoch,
            # read from the nodes' own logs
            lib.check_leaders()
            ok = True
        except lib.Skip as e:
            ok, skipped = True, str(e)
        except Exception:  # noqa: BLE001 - report every failure
            ok = False
            tb = traceback.format_exc()
        finally:
            keep = lib.cleanup(keep_on_failure=True)
        reports = sanitizer_reports(san_dir)
        if reports:
            tb = (tb if not ok else "") + "".join(
                f"sanitizer report {rn}:\n{text}" for rn, text in reports)
            ok = False
        dt = time.monotonic() - t0
        if ok and skipped:
            print(f"ok {i} - {name} # SKIP {skipped}", flush=True)
            lib.discard(keep)
        elif ok:
            print(f"ok {i} - {name} ({dt:.1f}s)", flush=True)
            lib.discard(keep)
        else:
            failed += 1
            print(f"not ok {i} - {name} ({dt:.1f}s)", flush=True)
            for line in tb.rstrip().splitlines():
                print(f"# {line}")
            for d in keep:
                print(f"# kept {d}")
                lib.dump_logs(d)
            if not os.environ.get("MEMDB_E2E_KEEP"):
                lib.discard(keep)
            sys.stdout.flush()
    shutil.rmtree(san_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
