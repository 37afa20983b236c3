"""The worker queue's bound (issue 19): `[palaver] worker_queue_size` requests' blocking work may
wait for a worker; a request whose work would queue past it is answered 503 with Retry-After at
once (JSON, text for HTML clients), counted in palaver_worker_queue_rejected_total, and the
server goes on serving what needs no worker; once the queue drains, work is accepted again."""
import http.client
import json
import re
import ssl
import threading
import time
import unittest
import urllib.parse

from harness import PALAVERD_TESTBED, Browser, Palaverd, metric, wait_until

QUEUE = 4


class WorkerQueue(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd({"palaver": {"workers": "1", "worker_queue_size": str(QUEUE)}}, binary=PALAVERD_TESTBED,
                         expect_start=False)
        cls.s.add_user("anna", "anna-secret")
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def get(self, path, headers=None, timeout=20):
        ctx = ssl.create_default_context(cafile=self.s.ca)
        c = http.client.HTTPSConnection("localhost", self.s.https_port, context=ctx, timeout=timeout)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def metric(self, name):
        return metric(self.s, name)

    def wait_for_metric(self, name, value, timeout=10):
        wait_until(lambda: self.metric(name) == value, timeout=timeout, interval=0.02, what=f"{name} == {value}")

    def fill(self, blocker_ms=3000):
        """Holds the only worker and fills the queue; returns the threads and their answers."""
        answers = []

        def call(ms):
            answers.append(self.get(f"/testbed/worker?ms={ms}")[0])

        threads = [threading.Thread(target=call, args=(blocker_ms,))]
        threads[0].start()
        time.sleep(0.3)
        self.wait_for_metric("palaver_worker_queue_depth", 0)  # the worker has taken it
        for _ in range(QUEUE):
            threads.append(threading.Thread(target=call, args=(10,)))
            threads[-1].start()
        self.wait_for_metric("palaver_worker_queue_depth", QUEUE)
        return threads, answers

    def sign_in(self, password):
        b = Browser(self.s)
        params = {"client_id": f"kpop-https://localhost:{self.s.https_port}/meet/", "response_type": "code",
                  "redirect_uri": f"https://localhost:{self.s.https_port}/meet/#oidc-callback",
                  "scope": "openid", "state": "s", "nonce": "n", "code_challenge_method": "S256",
                  "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}
        _, h, _ = b.get("/signin/v1/identifier/_/authorize?" + urllib.parse.urlencode(params))
        _, _, page = b.get(h["location"])
        field = lambda n: re.search(rf'name="{n}" value="([^"]*)"', page).group(1).replace("&amp;", "&")
        status, _, _ = b.post("/signin/v1/identifier/_/form",
                              form={"csrf": field("csrf"), "query": field("query"), "flow": field("flow"),
                                    "action": "signin", "username": "anna", "password": password})
        return status

    def test_refused_sign_ins_do_not_count_against_the_account(self):
        # The sign-in limiter counts attempts from their start until their worker task ends: a
        # refused request must never start one (before, that would have locked the account).
        self.assertEqual(self.sign_in("anna-secret"), 303)
        threads, answers = self.fill()
        for _ in range(8):
            self.assertEqual(self.sign_in("anna-secret"), 503)
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(answers), [200] * (QUEUE + 1))
        self.wait_for_metric("palaver_worker_queue_depth", 0)
        self.assertEqual(self.sign_in("anna-secret"), 303)

    def test_work_past_the_bound_is_refused_at_once_and_accepted_again_after(self):
        rejected_before = self.metric("palaver_worker_queue_rejected_total") or 0
        # One request holds the only worker for 3 s; QUEUE more wait behind it.
        threads, answers = self.fill()

        # The next request that needs a worker: 503 at once, JSON, Retry-After.
        start = time.time()
        status, headers, body = self.get("/testbed/worker?ms=10")
        self.assertLess(time.time() - start, 1.0)
        self.assertEqual(status, 503, body)
        self.assertEqual(headers.get("retry-after"), "1")
        self.assertTrue(headers["content-type"].startswith("application/json"), headers)
        self.assertEqual(json.loads(body)["error"], "unavailable")
        # A browser asking for a page gets text.
        status, headers, body = self.get("/testbed/worker?ms=10", {"Accept": "text/html"})
        self.assertEqual(status, 503)
        self.assertTrue(headers["content-type"].startswith("text/plain"), headers)
        self.assertIn(b"busy", body)
        # What needs no worker is served meanwhile.
        self.assertEqual(self.get("/healthz")[0], 200)
        self.assertEqual(self.get("/testbed/big?kb=1")[0], 200)
        self.assertEqual(self.metric("palaver_worker_queue_rejected_total"), rejected_before + 2)
        self.assertIn("worker queue full", self.s.stderr())

        for t in threads:
            t.join(30)
        self.assertEqual(sorted(answers), [200] * (QUEUE + 1))  # the queued ones were all served
        self.wait_for_metric("palaver_worker_queue_depth", 0)
        self.assertEqual(self.get("/testbed/worker?ms=10")[0], 200)


if __name__ == "__main__":
    unittest.main()
