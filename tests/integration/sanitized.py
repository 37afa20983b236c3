#!/usr/bin/env python3
"""Runs one integration suite against a sanitizer build (build-asan/, build-tsan/; docs/security.md,
"Sanitizer jobs"): `sanitized.py test_<suite>`.

Every sanitized process the suite starts (palaverd, its CLI commands, a palaverd a node client
starts) writes its reports to a file of its own, <PALAVER_SANITIZER_REPORTS>/palaverd.<pid>
(log_path), instead of a stderr the test may never read. The harness fails the test whose palaverd
wrote one (Palaverd.stop); this wrapper fails the suite on any report file left at the end, whoever
wrote it, and prints each. The suite's own result (run_suite.py's: 77 for a skip) is kept otherwise."""
import glob
import os
import shutil
import subprocess
import sys


def main():
    suite = sys.argv[1]
    reports = os.environ["PALAVER_SANITIZER_REPORTS"]
    shutil.rmtree(reports, ignore_errors=True)
    os.makedirs(reports)
    env = dict(os.environ)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        env[var] = ":".join(filter(None, [env.get(var), f"log_path={reports}/palaverd"]))
    run_suite = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_suite.py")
    rc = subprocess.call([sys.executable, run_suite, suite], env=env)
    found = sorted(glob.glob(os.path.join(reports, "palaverd.*")))
    for path in found:
        with open(path, errors="replace") as f:
            print(f"=== sanitizer report {os.path.basename(path)} ({os.environ.get('PALAVER_SANITIZER')}) ===\n"
                  f"{f.read()}", file=sys.stderr)
    if found:
        print(f"FAILED: {len(found)} sanitizer report(s) in {reports}", file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
