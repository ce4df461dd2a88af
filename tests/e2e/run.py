#!/usr/bin/env python3
"""Runs the end-to-end tests and prints TAP for automake's tap-driver.

Every test is a function named test_* in a tests/e2e/t_*.py module.  It
gets no arguments and raises (AssertionError or anything else) to fail.

Environment:
  MEMDB_BUILDDIR     where memdbd and memdbctl were built (default: cwd)
  MEMDB_E2E_FILTER   run only tests whose name contains this string
  MEMDB_E2E_KEEP=1   keep the temp dirs of failed tests
"""
import importlib
import os
import sys
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


def main():
    tests = collect()
    print(f"1..{len(tests)}", flush=True)
    failed = 0
    for i, (name, fn, _) in enumerate(tests, 1):
        t0 = time.monotonic()
        try:
            fn()
            ok = True
        except Exception:  # noqa: BLE001 - report every failure
            ok = False
            tb = traceback.format_exc()
        finally:
            keep = lib.cleanup(keep_on_failure=True)
        dt = time.monotonic() - t0
        if ok:
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
