"""Threads modules start through the host's SDK (sdk::Host::Threads): named, counted in
`palaver_threads{owner}`, and stopped and joined by the host when the module stops, even when the
module leaves them running (the testbed's "testbed-tick" thread does on purpose)."""
import os
import re
import signal
import time
import unittest

from harness import PALAVERD_TESTBED, Palaverd


def thread_names(pid):
    names = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                names.append(f.read().strip())
        except FileNotFoundError:
            pass
    return names


def gauge(metrics, owner):
    m = re.search(r'^palaver_threads\{owner="%s"\} (\d+)' % re.escape(owner), metrics, re.M)
    return int(m.group(1)) if m else None


class HostThreads(unittest.TestCase):
    def test_module_threads_are_named_counted_and_stopped_by_the_host(self):
        s = Palaverd({"turn": {"threads": "2"}}, binary=PALAVERD_TESTBED)
        self.addCleanup(s.close)
        names = thread_names(s.proc.pid)
        # The TURN relay threads (the turn module's engine) and the testbed's own thread.
        self.assertEqual(sorted(n for n in names if n.startswith("turn-relay-")), ["turn-relay-0", "turn-relay-1"], names)
        self.assertIn("testbed-tick", names)
        self.assertIn("palaver-net", names)
        self.assertEqual(sorted(n for n in names if n.startswith("net-file-")), ["net-file-0", "net-file-1"], names)
        # The thread runs: its counter moves.
        first = s.curl("/testbed/thread")[2].decode()
        time.sleep(0.3)
        second = s.curl("/testbed/thread")[2].decode()
        self.assertNotEqual(first, second)
        _, _, body, _ = s.curl("/metrics")
        metrics = body.decode()
        self.assertEqual(gauge(metrics, "turn"), 2, metrics)
        self.assertEqual(gauge(metrics, "testbed"), 1, metrics)
        self.assertEqual(gauge(metrics, "host"), 2, metrics)
        # SIGTERM: the testbed module does not stop its thread; the host does, and says so.
        s.proc.send_signal(signal.SIGTERM)
        self.assertEqual(s.proc.wait(timeout=30), 0, s.stderr())
        err = s.stderr()
        self.assertIn("stopping thread owner=testbed thread=testbed-tick", err)
        self.assertNotIn("stopping thread owner=turn", err)  # the engine stopped its own


if __name__ == "__main__":
    unittest.main()
