"""The authorization and token endpoints, the sign-in pages and their form, consent, the guest
flow and session management, walked like a browser would (spec §1.4, 1.5, 1.8, 1.12, 1.13)."""
import base64
import hashlib
import json
import re
import secrets
import subprocess
import unittest
import urllib.parse

from harness import Browser, Palaverd, PALAVERD_TESTBED

AUTHORIZE = "/signin/v1/identifier/_/authorize"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def pkce():
    verifier = b64url(secrets.token_bytes(32))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def fragment_params(location):
    return dict(urllib.parse.parse_qsl(location.split("#", 1)[1].split("&", 1)[1] if "#oidc" in location
                                       else location.split("#", 1)[1]))


def query_params(location):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


class Flows(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd(expect_start=False, binary=PALAVERD_TESTBED)
        cls.s.add_user("anna", "anna-secret", "--display-name", "Anna Alder", "--given-name", "Anna",
                       "--surname", "Alder", "--mail", "anna@example.org")
        cls.s.add_user("bert", "bert-secret", "--display-name", "Bert")
        cls.secret = cls.client_add("app", "--redirect-uri", "https://app.example/cb", "--trusted", "--secret",
                                    "--name", "Example App")
        cls.client_add("shady", "--redirect-uri", "https://shady.example/cb", "--name", "Shady Tool")
        cls.s.start()
        cls.iss = f"https://localhost:{cls.s.https_port}"
        cls.meet = f"{cls.iss}/meet/"
        cls.kpop = f"kpop-{cls.meet}"

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    @classmethod
    def client_add(cls, *args):
        r = subprocess.run([cls.s.binary, "client", "add", *args, "--config", cls.s.config_path],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError(r.stderr)
        m = re.search(r"client secret \(shown once\): (\S+)", r.stdout)
        return m.group(1) if m else None

    # --- helpers ---------------------------------------------------------------------------

    def meet_authorize(self, browser, **extra):
        verifier, challenge = pkce()
        params = {"client_id": self.kpop, "redirect_uri": self.meet + "#oidc-callback", "response_type": "code",
                  "response_mode": "fragment", "scope": "openid profile email kopano/kwm kopano/gc kopano/kvs",
                  "state": "st-" + secrets.token_hex(4), "nonce": "n-" + secrets.token_hex(4),
                  "code_challenge": challenge, "code_challenge_method": "S256",
                  "claims": json.dumps({"id_token": {"name": None}})}
        params.update(extra)
        status, h, body = browser.get(AUTHORIZE + "?" + urllib.parse.urlencode(params))
        return status, h, body, params, verifier

    def sign_in_through_page(self, browser, location, user="anna", password="anna-secret"):
        status, h, page = browser.get(location)
        self.assertEqual(status, 200, page)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
        flow = re.search(r'name="flow" value="([^"]*)"', page).group(1)
        return browser.post("/signin/v1/identifier/_/form",
                            form={"csrf": csrf, "query": query, "flow": flow, "action": "signin",
                                  "username": user, "password": password})

    def token(self, form, auth=None):
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        b = Browser(self.s)
        status, h, body = b.post("/konnect/v1/token", body=urllib.parse.urlencode(form), headers=headers)
        return status, h, json.loads(body) if body else {}

    def signed_in_browser(self, user="anna", password="anna-secret", lang="en"):
        b = Browser(self.s, lang)
        status, h, _, _, _ = self.meet_authorize(b)
        self.assertEqual(status, 302)
        status, h, _ = self.sign_in_through_page(b, h["location"], user, password)
        self.assertEqual(status, 303)
        return b

    # --- tests -----------------------------------------------------------------------------

    def test_meet_code_flow_through_the_sign_in_page(self):
        b = Browser(self.s)
        status, h, _, params, verifier = self.meet_authorize(b)
        self.assertEqual(status, 302)
        location = h["location"]
        self.assertTrue(location.startswith("/signin/v1/identifier?"), location)
        self.assertEqual(query_params(location)["flow"], "oidc")
        # The page: a labelled, accessible form; a form token cookie.
        status, ph, page = b.get(location)
        self.assertEqual(status, 200)
        self.assertIn('<html lang="en">', page)
        self.assertIn('<label for="username">Username</label>', page)
        self.assertIn('autocomplete="current-password"', page)
        self.assertIn("frame-ancestors 'none'", ph["content-security-policy"])
        self.assertEqual(ph["x-frame-options"], "DENY")
        self.assertIsNotNone(b.cookie("__Secure-KKF"))
        # A wrong password: the page again, saying so without naming which part was wrong.
        status, h, page = self.sign_in_through_page(b, location, "anna", "wrong")
        self.assertEqual(status, 401)
        self.assertIn("The username or password is not correct.", page)
        self.assertIn('value="anna"', page)
        self.assertIsNone(b.cookie("__Secure-KKT"))
        status, h, _ = self.sign_in_through_page(b, location)
        self.assertEqual(status, 303)
        self.assertTrue(h["location"].startswith(AUTHORIZE + "?"), h["location"])
        self.assertIn("prompt=none", h["location"])
        self.assertIsNotNone(b.cookie("__Secure-KKT"))
        status, h, _ = b.get(h["location"])
        self.assertEqual(status, 302)
        self.assertTrue(h["location"].startswith(self.meet + "#oidc-callback&"), h["location"])
        got = fragment_params(h["location"])
        self.assertEqual(got["state"], params["state"])
        self.assertEqual(got["scope"], "openid profile email kopano/kwm kopano/gc kopano/kvs")
        self.assertIn("code", got)
        self.assertNotIn("access_token", got)
        self.assertIn("no-store", h["cache-control"])
        # session_state is what the check-session iframe recomputes from the browser-state cookie.
        bs = b.cookie("__Secure-KKBS")
        digest, salt = got["session_state"].split(".")
        self.assertEqual(hashlib.sha256(f"{self.kpop} {self.iss} {bs} {salt}".encode()).hexdigest(), digest)
        # The code for tokens, with the PKCE verifier.
        form = {"grant_type": "authorization_code", "code": got["code"], "client_id": self.kpop,
                "redirect_uri": params["redirect_uri"], "code_verifier": verifier}
        status, h, tokens = self.token(form)
        self.assertEqual(status, 200, tokens)
        self.assertEqual(h["cache-control"], "no-store")
        self.assertEqual((tokens["token_type"], tokens["expires_in"]), ("Bearer", 600))
        self.assertNotIn("refresh_token", tokens)  # Meet never asks for offline_access
        idt = claims_of(tokens["id_token"])
        self.assertEqual((idt["iss"], idt["aud"], idt["nonce"]), (self.iss, self.kpop, params["nonce"]))
        self.assertEqual(idt["name"], "Anna Alder")  # named in the claims request
        self.assertNotIn("email", idt)  # not named, and an access token came along
        at_hash = b64url(hashlib.sha256(tokens["access_token"].encode()).digest()[:16])
        self.assertEqual(idt["at_hash"], at_hash)
        at = claims_of(tokens["access_token"])
        self.assertEqual(at["sub"], idt["sub"])
        self.assertEqual(at["kc.identity"]["kc.i.un"], "anna")
        self.assertTrue(at["kc.isAccessToken"])
        # The access token works where the Meet app uses it.
        api = Browser(self.s)
        status, _, body = api.get("/konnect/v1/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
        self.assertEqual((status, json.loads(body)["email"]), (200, "anna@example.org"))
        status, h, body = api.get("/api/gc/v1/me", headers={"Authorization": "Bearer " + tokens["access_token"]})
        self.assertEqual((status, json.loads(body)["userPrincipalName"]), (200, "anna"))
        # A code is good once.
        status, _, err = self.token(form)
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))

    def test_silent_renew_and_prompt_none(self):
        b = Browser(self.s)
        status, h, _, params, _ = self.meet_authorize(b, prompt="none",
                                                      redirect_uri=self.meet + "#oidc-silent-refresh")
        self.assertEqual(status, 302)
        got = fragment_params(h["location"])
        self.assertEqual((got["error"], got["state"]), ("login_required", params["state"]))
        b = self.signed_in_browser()
        status, h, _, _, _ = self.meet_authorize(b, prompt="none", redirect_uri=self.meet + "#oidc-silent-refresh")
        self.assertIn("code", fragment_params(h["location"]))
        # prompt=login asks again even when signed in; select_account offers the chooser.
        status, h, _, _, _ = self.meet_authorize(b, prompt="login")
        self.assertTrue(h["location"].startswith("/signin/v1/identifier?"))
        self.assertNotIn("prompt=", h["location"])
        status, h, _, _, _ = self.meet_authorize(b, prompt="select_account")
        self.assertTrue(h["location"].startswith("/signin/v1/chooseaccount?"))
        status, _, page = b.get(h["location"])
        self.assertIn("Use another account", page)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
        status, h, _ = b.post("/signin/v1/identifier/_/form",
                              form={"csrf": csrf, "query": query, "flow": "oidc", "action": "continue"})
        self.assertEqual(status, 303)
        status, h, _ = b.get(h["location"])
        self.assertIn("code", fragment_params(h["location"]))

    def test_implicit_flow_needs_a_nonce_and_returns_tokens_in_the_fragment(self):
        b = self.signed_in_browser()
        status, h, _, params, _ = self.meet_authorize(b, response_type="id_token token", code_challenge="",
                                                      code_challenge_method="")
        got = fragment_params(h["location"])
        idt = claims_of(got["id_token"])
        self.assertEqual(idt["nonce"], params["nonce"])
        self.assertEqual(idt["at_hash"], b64url(hashlib.sha256(got["access_token"].encode()).digest()[:16]))
        self.assertEqual(got["token_type"], "Bearer")
        status, h, _, params, _ = self.meet_authorize(b, response_type="id_token token", nonce="")
        self.assertEqual(fragment_params(h["location"])["error"], "invalid_request")

    def test_guest_flow_with_a_request_object(self):
        status, _, req_obj, _ = self.s.curl("/testbed/guest-request", "-X", "POST", "--data-binary",
                                            f"{self.kpop} group/public/team (Guest) Gus")
        self.assertEqual(status, 200)
        req_obj = req_obj.decode()
        b = Browser(self.s)
        params = {"client_id": self.kpop, "redirect_uri": self.meet + "#oidc-silent-refresh",
                  "response_type": "id_token token", "scope": "openid profile email kopano/kwm kopano/gc kopano/kvs",
                  "state": "gs", "nonce": "gn", "prompt": "none", "request": req_obj}
        status, h, _ = b.get(AUTHORIZE + "?" + urllib.parse.urlencode(params))
        self.assertEqual(status, 302)
        got = fragment_params(h["location"])
        self.assertEqual(got["scope"], "openid profile email kopano/kwm konnect/guestok")  # no contacts, no kvs
        idt = claims_of(got["id_token"])
        self.assertEqual((idt["name"], idt["guest"], idt["nonce"]), ("(Guest) Gus", True, "gn"))
        at = claims_of(got["access_token"])
        self.assertTrue(at["kc.identity"]["kc.i.guest"])
        self.assertEqual(at["kc.provider"], "guest")
        self.assertEqual(at["kc.authorizedClaims"]["passthru"]["kopano/kwm/guest"]["path"], "group/public/team")
        # Guests cannot use the address book.
        api = Browser(self.s)
        status, _, _ = api.get("/api/gc/v1/users", headers={"Authorization": "Bearer " + got["access_token"]})
        self.assertEqual(status, 403)
        # Nor the admin API: a guest's valid token is refused (403), reading or changing.
        guest_auth = {"Authorization": "Bearer " + got["access_token"]}
        self.assertEqual(api.get("/admin/api/v1/settings", headers=guest_auth)[0], 403)
        self.assertEqual(api.request("PUT", "/admin/api/v1/settings/signaling.guests_enabled", body='{"value": false}',
                                     headers={**guest_auth, "Content-Type": "application/json"})[0], 403)
        self.assertEqual(api.request("PUT", "/admin/api/v1/log-levels", body="web=debug", headers=guest_auth)[0], 403)
        self.assertNotIn("log level changed", self.s.stderr())
        # Tampered, unsigned or foreign request objects are refused with a page, not a redirect.
        head, payload, sig = req_obj.split(".")
        forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        forged["claims"]["passthru"]["kopano/kwm/guest"]["path"] = "group/private/board"
        forged_payload = b64url(json.dumps(forged).encode())
        none_head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        for bad in (f"{head}.{forged_payload}.{sig}", f"{none_head}.{forged_payload}.", "not-a-jwt"):
            status, h, body = b.get(AUTHORIZE + "?" + urllib.parse.urlencode({**params, "request": bad}))
            self.assertEqual(status, 400, bad)
            self.assertIn("request object", body)

    def test_refresh_token_rotation_and_reuse(self):
        b = self.signed_in_browser()
        params = {"client_id": "app", "redirect_uri": "https://app.example/cb", "response_type": "code",
                  "scope": "openid profile offline_access", "state": "s1"}
        status, h, _ = b.get(AUTHORIZE + "?" + urllib.parse.urlencode(params))
        self.assertEqual(status, 302)
        self.assertTrue(h["location"].startswith("https://app.example/cb?code="), h["location"])  # query mode
        code = query_params(h["location"])["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.example/cb"}
        status, h, err = self.token(form, auth="app:wrong")
        self.assertEqual((status, err["error"]), (401, "invalid_client"))
        self.assertIn("Basic", h["www-authenticate"])
        status, _, tokens = self.token(form, auth=f"app:{self.secret}")
        self.assertEqual(status, 200, tokens)  # the failed attempt did not use up the code? it did not reach it
        first = tokens["refresh_token"]
        self.assertTrue(claims_of(first)["kc.isRefreshToken"])
        status, _, t2 = self.token({"grant_type": "refresh_token", "refresh_token": first}, auth=f"app:{self.secret}")
        self.assertEqual(status, 200, t2)
        second = t2["refresh_token"]
        self.assertNotEqual(first, second)
        self.assertEqual(claims_of(t2["id_token"])["sub"], claims_of(tokens["id_token"])["sub"])
        # Narrowing is fine, widening is not.
        status, _, err = self.token({"grant_type": "refresh_token", "refresh_token": second, "scope": "openid email"},
                                    auth=f"app:{self.secret}")
        self.assertEqual((status, err["error"]), (400, "invalid_scope"))
        # Reusing a rotated token revokes the family: the newer token dies with it.
        status, _, err = self.token({"grant_type": "refresh_token", "refresh_token": first}, auth=f"app:{self.secret}")
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))
        status, _, err = self.token({"grant_type": "refresh_token", "refresh_token": second}, auth=f"app:{self.secret}")
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))
        self.assertIn("refresh token reused", self.s.stderr())
        # Another client cannot use the token; nor can a tampered one pass.
        status, _, err = self.token({"grant_type": "refresh_token", "refresh_token": second, "client_id": self.kpop})
        self.assertEqual(status, 400)
        h_, p_, s_ = second.split(".")
        status, _, err = self.token({"grant_type": "refresh_token", "refresh_token": f"{h_}.{p_}.{s_[:-4]}AAAA"},
                                    auth=f"app:{self.secret}")
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))

    def test_consent_for_an_untrusted_client(self):
        b = self.signed_in_browser(lang="de")
        params = {"client_id": "shady", "redirect_uri": "https://shady.example/cb", "response_type": "code",
                  "scope": "openid profile email kopano/gc", "state": "c1"}
        url = AUTHORIZE + "?" + urllib.parse.urlencode(params)
        status, h, _ = b.get(url + "&prompt=none")
        self.assertEqual(query_params(h["location"])["error"], "consent_required")
        status, h, _ = b.get(url)
        self.assertTrue(h["location"].startswith("/signin/v1/consent?"), h["location"])
        status, ph, page = b.get(h["location"])
        self.assertEqual(status, 200)
        self.assertIn('<html lang="de">', page)
        self.assertIn("Shady Tool bittet um die Erlaubnis:", page)
        self.assertIn("Das Adressbuch zu durchsuchen", page)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
        status, h, _ = b.post("/signin/v1/identifier/_/form",
                              form={"csrf": csrf, "query": query, "flow": "oidc", "action": "deny"})
        status, h, _ = b.get(h["location"])
        self.assertEqual(query_params(h["location"])["error"], "access_denied")
        status, h, _ = b.get(url)
        status, _, page = b.get(h["location"])
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        status, h, _ = b.post("/signin/v1/identifier/_/form",
                              form={"csrf": csrf, "query": query, "flow": "oidc", "action": "allow"})
        status, h, _ = b.get(h["location"])
        got = query_params(h["location"])
        self.assertIn("code", got)
        self.assertEqual(got["scope"], "openid profile email kopano/gc")

    def test_requests_that_cannot_be_redirected_get_a_page(self):
        b = Browser(self.s)
        base = {"client_id": self.kpop, "redirect_uri": self.meet, "response_type": "code", "scope": "openid"}
        cases = [
            ({"client_id": ""}, "client_id is missing"),
            ({"redirect_uri": "/relative"}, "absolute URL"),
            ({"redirect_uri": "https://evil.example/cb"}, "Unknown client"),  # unregistered, other origin
            ({"client_id": "app", "redirect_uri": "https://app.example/other"}, "not registered"),
            ({"client_id": "nobody-registered-me", "redirect_uri": "https://evil.example/"}, "Unknown client"),
        ]
        for change, text in cases:
            status, h, body = b.get(AUTHORIZE + "?" + urllib.parse.urlencode({**base, **change}))
            self.assertEqual(status, 400, change)
            self.assertIn(text, body)
            self.assertNotIn("location", h)
        status, _, body = b.get(AUTHORIZE + "?client_id=a&client_id=b")
        self.assertEqual(status, 400)
        self.assertIn("given twice", body)

    def test_bad_requests_are_redirected_with_an_error(self):
        b = Browser(self.s)
        base = {"client_id": self.kpop, "redirect_uri": self.meet, "response_type": "code", "scope": "openid",
                "state": "x"}
        cases = [({"scope": "profile"}, "invalid_scope"),
                 ({"response_type": "magic"}, "unsupported_response_type"),
                 ({"code_challenge": "abc", "code_challenge_method": "plain"}, "invalid_request"),
                 ({"code_challenge": "short"}, "invalid_request"),
                 ({"prompt": "none login"}, "invalid_request"),
                 ({"request_uri": "https://x/"}, "request_uri_not_supported")]
        for change, error in cases:
            status, h, _ = b.get(AUTHORIZE + "?" + urllib.parse.urlencode({**base, **change}))
            self.assertEqual(status, 302, change)
            got = query_params(h["location"])
            self.assertEqual((got["error"], got["state"]), (error, "x"), change)

    def test_token_endpoint_refuses_bad_exchanges(self):
        b = self.signed_in_browser()
        def fresh_code(**extra):
            _, h, _, params, verifier = self.meet_authorize(b, **extra)
            return fragment_params(h["location"])["code"], params, verifier
        code, params, verifier = fresh_code()
        base = {"grant_type": "authorization_code", "client_id": self.kpop, "redirect_uri": params["redirect_uri"]}
        status, _, err = self.token({**base, "code": code})  # no verifier
        self.assertEqual((status, err["error"], err["error_description"]), (400, "invalid_grant", "PKCE verification failed"))
        status, _, err = self.token({**base, "code": code, "code_verifier": verifier})
        self.assertEqual(status, 400)  # the failed attempt used the code up
        code, params, verifier = fresh_code()
        status, _, err = self.token({**base, "code": code, "code_verifier": pkce()[0]})
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))
        code, params, verifier = fresh_code()
        status, _, err = self.token({**base, "code": code, "code_verifier": verifier, "redirect_uri": self.meet + "x"})
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))
        code, params, verifier = fresh_code()
        status, _, err = self.token({**base, "code": code, "code_verifier": verifier, "client_id": "kpop-other"})
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))
        # Without PKCE a public client gets no tokens at all.
        code, params, verifier = fresh_code(code_challenge="", code_challenge_method="")
        status, _, err = self.token({**base, "code": code})
        self.assertEqual((status, err["error_description"]), (400, "public clients must use PKCE"))
        for form, error in (({"grant_type": "password", "client_id": self.kpop}, "unsupported_grant_type"),
                            ({"client_id": self.kpop}, "invalid_request"),
                            ({"grant_type": "authorization_code"}, "invalid_request")):
            status, _, err = self.token(form)
            self.assertEqual((status, err["error"]), (400, error), form)
        status, h, _ = Browser(self.s).get("/konnect/v1/token")
        self.assertEqual(status, 405)

    def test_form_csrf_and_origin(self):
        b = Browser(self.s)
        _, h, _, _, _ = self.meet_authorize(b)
        status, _, page = b.get(h["location"])
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        good = {"csrf": csrf, "query": "", "flow": "", "action": "signin", "username": "anna", "password": "anna-secret"}
        status, _, page = b.post("/signin/v1/identifier/_/form", form={**good, "csrf": "x" * 32})
        self.assertEqual(status, 400)
        self.assertIn("The form has expired", page)
        status, _, _ = b.post("/signin/v1/identifier/_/form", form=good, headers={"Origin": "https://evil.example"})
        self.assertEqual(status, 400)
        self.assertIsNone(b.cookie("__Secure-KKT"))
        # Without a flow the sign-in ends on the welcome page, naming the user.
        status, _, page = b.get("/signin/v1/identifier")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        status, h, _ = b.post("/signin/v1/identifier/_/form", form={**good, "csrf": csrf})
        self.assertEqual(status, 303)
        self.assertTrue(h["location"].startswith("/signin/v1/welcome?who="))
        status, _, page = b.get(h["location"])
        self.assertIn("You are signed in as Anna Alder.", page)

    def test_form_rate_limit(self):
        b = Browser(self.s)
        status, _, page = b.get("/signin/v1/identifier")
        for i in range(5):
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            status, _, page = b.post("/signin/v1/identifier/_/form",
                                     form={"csrf": csrf, "query": "", "flow": "", "action": "signin",
                                           "username": "bert", "password": f"wrong{i}"})
            self.assertEqual(status, 401)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        status, h, page = b.post("/signin/v1/identifier/_/form",
                                 form={"csrf": csrf, "query": "", "flow": "", "action": "signin",
                                       "username": "bert", "password": "bert-secret"})
        self.assertEqual(status, 429)
        self.assertIn("Too many failed sign-ins", page)
        self.assertEqual(h["retry-after"], "300")

    def test_pages_in_german(self):
        b = Browser(self.s, lang="de-DE,de;q=0.9,en;q=0.5")
        status, h, page = b.get("/signin/v1/identifier")
        self.assertEqual((status, h["content-language"]), (200, "de"))
        self.assertIn('<label for="password">Passwort</label>', page)
        status, _, page = b.get("/signin/v1/goodbye")
        self.assertIn("Sie sind abgemeldet.", page)

    def test_disabled_user_loses_the_session(self):
        self.s.add_user("carl", "carl-secret")
        b = self.signed_in_browser("carl", "carl-secret")
        r = subprocess.run([self.s.binary, "user", "disable", "carl", "--config", self.s.config_path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        status, h, _, _, _ = self.meet_authorize(b, prompt="none")
        self.assertEqual(fragment_params(h["location"])["error"], "login_required")

    def test_check_session_iframe_and_end_session_cookie(self):
        b = Browser(self.s)
        status, h, page = b.get("/konnect/v1/session/check-session.html")
        self.assertEqual(status, 200)
        nonce = re.search(r"script-src 'nonce-([^']+)'", h["content-security-policy"]).group(1)
        self.assertIn(f'<script nonce="{nonce}">', page)
        self.assertIn("frame-ancestors https:", h["content-security-policy"])
        self.assertNotIn("x-frame-options", h)
        b = self.signed_in_browser()
        self.meet_authorize(b)
        self.assertIsNotNone(b.cookie("__Secure-KKBS"))
        status, h, _ = b.get("/signin/v1/identifier/_/endsession")
        self.assertIsNone(b.cookie("__Secure-KKBS"))
        self.assertIsNone(b.cookie("__Secure-KKT"))


class LockedDatabase(unittest.TestCase):
    """A database locked by another process: a clear, retryable error, and nothing lost."""

    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd({"palaver": {"db_busy_timeout": "300ms"}}, expect_start=False)
        cls.s.add_user("anna", "anna-secret")
        cls.secret = Flows.client_add.__func__(cls, "app", "--redirect-uri", "https://app.example/cb", "--trusted", "--secret")
        cls.s.start()
        cls.iss = f"https://localhost:{cls.s.https_port}"
        cls.meet = f"{cls.iss}/meet/"
        cls.kpop = f"kpop-{cls.meet}"

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    meet_authorize = Flows.meet_authorize
    sign_in_through_page = Flows.sign_in_through_page
    signed_in_browser = Flows.signed_in_browser
    token = Flows.token

    def test_refresh_while_the_database_is_locked(self):
        import sqlite3
        b = self.signed_in_browser()
        params = {"client_id": "app", "redirect_uri": "https://app.example/cb", "response_type": "code",
                  "scope": "openid offline_access"}
        _, h, _ = b.get(AUTHORIZE + "?" + urllib.parse.urlencode(params))
        code = query_params(h["location"])["code"]
        status, _, tokens = self.token({"grant_type": "authorization_code", "code": code,
                                        "redirect_uri": "https://app.example/cb"}, auth=f"app:{self.secret}")
        self.assertEqual(status, 200, tokens)
        lock = sqlite3.connect(f"{self.s.state}/palaver.db", timeout=5, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            status, _, err = self.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                                        auth=f"app:{self.secret}")
            self.assertEqual((status, err["error"]), (503, "temporarily_unavailable"))
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        # The refresh token was not used up by the failed attempt.
        status, _, t2 = self.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                                   auth=f"app:{self.secret}")
        self.assertEqual(status, 200, t2)


if __name__ == "__main__":
    unittest.main()
