"""Runs one integration suite for ctest: `python3 run_suite.py test_<suite>`.

Exit status: 0 when every test ran and passed; 1 on any failure or error; 77 (the suites'
SKIP_RETURN_CODE in tests/CMakeLists.txt) when everything that ran passed but some tests were
skipped, so ctest reports the suite as skipped instead of passed. Under CI=true a skip is a
failure (exit 1): CI installs every tool (./dev test runs scripts/deps.sh test), runs as root and
configures the build as ./dev does, so a skip there means a test did not run that should have.
The one exception is a skip whose reason starts with "environment:": something of the machine
itself that no project file can install (e.g. no IPv6 on loopback). It stays a skip (77) under CI."""
import os
import sys
import unittest

SKIPPED = 77


def main(argv):
    if len(argv) != 2:
        print("usage: run_suite.py test_<suite>", file=sys.stderr)
        return 2
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    suite = unittest.defaultTestLoader.loadTestsFromName(argv[1])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        return 1
    if result.testsRun == 0:
        print(f"{argv[1]}: no tests ran", file=sys.stderr)
        return 1
    if result.skipped:
        ci = os.environ.get("CI") == "true"
        print(f"\n{len(result.skipped)} test(s) skipped{' (a failure under CI=true)' if ci else ''}:", file=sys.stderr)
        for test, reason in result.skipped:
            print(f"  SKIPPED {test.id()}: {reason}", file=sys.stderr)
        fatal = [reason for _, reason in result.skipped if not reason.startswith("environment:")]
        return 1 if ci and fatal else SKIPPED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
