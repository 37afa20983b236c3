"""The palaverd the build makes (and the package ships) carries the hardening CMakeLists.txt asks for
(docs/security.md, "Build hardening"), read from the ELF file with readelf: a position-independent
executable, full RELRO with immediate binding, the stack protector, and _FORTIFY_SOURCE's checked
libc calls. A build that loses one of the flags fails here."""
import os
import re
import shutil
import subprocess
import unittest

from harness import PALAVERD


def readelf(*args):
    r = subprocess.run(["readelf", "-W", *args, PALAVERD], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"readelf {' '.join(args)} failed: {r.stderr}")
    return r.stdout


class Hardening(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("readelf"):
            raise AssertionError("readelf (binutils) is needed: scripts/deps.sh build installs it")
        cls.dynsyms = readelf("--dyn-syms")

    def test_position_independent_executable(self):
        self.assertRegex(readelf("-h"), r"Type:\s+DYN \(Position-Independent Executable file\)")
        self.assertRegex(readelf("-d"), r"\(FLAGS_1\).*\bPIE\b")

    def test_full_relro_and_bind_now(self):
        self.assertIn("GNU_RELRO", readelf("-l"))
        dyn = readelf("-d")
        self.assertTrue(re.search(r"\(FLAGS\).*\bBIND_NOW\b", dyn) or re.search(r"\(FLAGS_1\).*\bNOW\b", dyn), dyn)

    def test_stack_protector(self):
        self.assertIn("__stack_chk_fail", self.dynsyms)

    def test_fortify_source(self):
        # _FORTIFY_SOURCE turns calls whose buffer size the compiler knows into their checking
        # variants (__memcpy_chk, __read_chk, __snprintf_chk, ...); without it there are none.
        checked = sorted(set(re.findall(r"\b(__\w+_chk)\b", self.dynsyms)) - {"__stack_chk_fail"})
        self.assertGreaterEqual(len(checked), 3, f"fortified libc calls: {checked}")


if __name__ == "__main__":
    unittest.main()
