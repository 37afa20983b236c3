"""Every config snippet in the docs is a config palaverd accepts (issue 15): each ```ini block of
the Markdown files (README, docs/, module READMEs) and appliance/palaver.cfg.example goes through
`palaverd --check-config` with a state dir of its own."""
import glob
import os
import re
import subprocess
import tempfile
import unittest

from harness import PALAVERD, SOURCE

BLOCK = re.compile(r"^```ini\n(.*?)^```", re.S | re.M)


def snippets():
    files = [os.path.join(SOURCE, "README.md")]
    for pattern in ("docs/**/*.md", "modules/*/README.md", "appliance/**/*.md", "webui/**/README*.md"):
        files += glob.glob(os.path.join(SOURCE, pattern), recursive=True)
    for path in sorted(set(files)):
        if "node_modules" in path:
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in BLOCK.finditer(text):
            line = text.count("\n", 0, m.start()) + 2
            yield f"{os.path.relpath(path, SOURCE)}:{line}", m.group(1)


class DocsConfig(unittest.TestCase):
    def check(self, name, text):
        with tempfile.TemporaryDirectory(prefix="palaver-docs-") as d:
            if "[palaver]" not in text:
                text = f"[palaver]\nstate_dir = {d}/state\n\n" + text
            # Files the snippet names (secrets, CA files) stand in as files of the test's own: this
            # test is about what the docs write, not about the reader's /etc.
            def stand_in(m):
                path = m.group(2)
                if os.path.exists(path) or path.startswith(d):
                    return m.group(0)
                local = os.path.join(d, "files", path.strip("/").replace("/", "_"))
                os.makedirs(os.path.dirname(local), exist_ok=True)
                with open(local, "w") as f:
                    f.write("stand-in-secret-0123456789abcdef0123456789\n")
                os.chmod(local, 0o600)
                return m.group(1) + local
            text = re.sub(r"^(\s*[a-z_.]+_(?:file|path)\s*=\s*)(/\S+)", stand_in, text, flags=re.M)
            cfg = os.path.join(d, "palaver.cfg")
            with open(cfg, "w") as f:
                f.write(text)
            # --syntax-only: the docs name certificates and web roots of a real installation.
            r = subprocess.run([PALAVERD, "--check-config", cfg, "--syntax-only"], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, f"{name}: the docs' config is refused:\n{r.stdout}{r.stderr}\n--- snippet ---\n{text}")

    def test_every_ini_snippet_is_accepted(self):
        found = list(snippets())
        self.assertGreater(len(found), 3, "no ```ini snippets found in the docs")
        for name, text in found:
            with self.subTest(snippet=name):
                self.check(name, text)

    def test_the_example_config_is_accepted(self):
        with open(os.path.join(SOURCE, "appliance", "palaver.cfg.example"), encoding="utf-8") as f:
            self.check("appliance/palaver.cfg.example", f.read())

    def test_a_wrong_value_in_a_snippet_would_be_caught(self):
        with self.assertRaises(AssertionError):
            self.check("bad", "[turn]\nexternal_ip = not-an-address ; comment\n")


if __name__ == "__main__":
    unittest.main()
