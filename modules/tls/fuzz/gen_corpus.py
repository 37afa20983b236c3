#!/usr/bin/env python3
"""Writes corpus/ for acme_fuzz.cpp: a CA's answers as pebble (Let's Encrypt's test CA, which
tests/integration/test_acme.py runs) and RFC 8555 §7 give them, in the order the client asks.
Record: status index (kStatus: 0=200 1=201 2=204 3=400 4=403 5=404 6=429 7=500 8=503), flags
(1 nonce, 2 Location (kUrls[flags>>5]), 4 Retry-After, 8 Link, 16 PEM), header lines, body;
records joined by "\\n--\\n"; the first byte of the file picks the flow."""
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus")
os.makedirs(out, exist_ok=True)
CA = "https://ca.test/acme"
ORDER, AUTHZ, CHALL, CERT, ACCT, FINAL = 0, 1, 2, 3, 4, 5


def rec(status, body=b"", nonce="nonce-1", location=None, retry=None, link=None, pem=False):
    flags = (1 if nonce else 0) | (2 if location is not None else 0) | (4 if retry else 0) | (8 if link else 0) | (16 if pem else 0)
    if location is not None:
        flags |= location << 5
    head = bytes([status, flags])
    lines = b""
    if nonce:
        lines += nonce.encode() + b"\n"
    if retry:
        lines += retry.encode() + b"\n"
    if link:
        lines += link.encode() + b"\n"
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    return head + lines + (body if isinstance(body, bytes) else body.encode())


def put(name, flow, records):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([flow]) + b"\n--\n".join(records))


directory = rec(0, {"newNonce": f"{CA}/nonce-plz", "newAccount": f"{CA}/new-acct", "newOrder": f"{CA}/new-order",
                    "revokeCert": f"{CA}/revoke-cert", "keyChange": f"{CA}/rollover-account-key",
                    "renewalInfo": f"{CA}/renewal-info",
                    "meta": {"termsOfService": "data:text/plain,Do%20what%20thou%20wilt",
                             "externalAccountRequired": False}}, nonce=None)
nonce = rec(0, b"", nonce="nonce-0")
account = rec(1, {"status": "valid", "contact": ["mailto:admin@example.test"], "orders": f"{CA}/list-orderz/1"},
              location=ACCT)
order_pending = rec(1, {"status": "pending", "expires": "2026-12-08T00:00:00Z",
                        "identifiers": [{"type": "dns", "value": "meet.example.test"}],
                        "finalize": f"{CA}/finalize/1", "authorizations": [f"{CA}/authz/1"]}, location=ORDER)
authz_pending = rec(0, {"status": "pending", "identifier": {"type": "dns", "value": "meet.example.test"},
                        "challenges": [{"type": "http-01", "url": f"{CA}/chall/1", "token": "tok-en_1",
                                        "status": "pending"},
                                       {"type": "tls-alpn-01", "url": f"{CA}/chall/2", "token": "tok2",
                                        "status": "pending"}],
                        "expires": "2026-12-08T00:00:00Z"}, retry="1")
chall = rec(0, {"type": "http-01", "url": f"{CA}/chall/1", "token": "tok-en_1", "status": "processing"})
authz_valid = rec(0, {"status": "valid", "identifier": {"type": "dns", "value": "meet.example.test"},
                      "challenges": [{"type": "http-01", "url": f"{CA}/chall/1", "token": "tok-en_1",
                                      "status": "valid", "validated": "2026-12-07T06:00:00Z"}]})
order_processing = rec(0, {"status": "processing", "finalize": f"{CA}/finalize/1",
                           "authorizations": [f"{CA}/authz/1"]}, retry="2")
order_valid = rec(0, {"status": "valid", "finalize": f"{CA}/finalize/1", "authorizations": [f"{CA}/authz/1"],
                      "certificate": f"{CA}/cert/1"})
pem = rec(0, "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n", pem=True,
          link=f'<{CA}/issuer-cert>;rel="alternate"')
bad_nonce = rec(3, {"type": "urn:ietf:params:acme:error:badNonce", "detail": "JWS has an invalid anti-replay nonce",
                    "status": 400}, nonce="nonce-fresh")
rate = rec(6, {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many certificates already issued",
               "status": 429}, retry="Wed, 21 Oct 2026 07:28:00 GMT")
problem = rec(4, {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "Error creating new order",
                  "subproblems": [{"type": "urn:ietf:params:acme:error:caa", "detail": "CAA forbids",
                                   "identifier": {"type": "dns", "value": "meet.example.test"}}]})
order_invalid = rec(0, {"status": "invalid", "error": {"type": "urn:ietf:params:acme:error:unauthorized",
                                                        "detail": "Invalid response from http://meet/.well-known"}})

put("issue", 1, [directory, nonce, account, order_pending, authz_pending, chall, authz_valid, order_processing,
                 order_valid, pem])
put("issue-badnonce", 1, [directory, nonce, bad_nonce, account, rate])
put("issue-invalid", 1, [directory, nonce, account, order_pending, authz_pending, chall, order_invalid])
put("calls", 2, [directory, nonce, account, order_pending, authz_pending, chall, order_valid, pem])
put("calls-problem", 2, [directory, nonce, problem, problem, rate])
put("ari", 3, [directory, nonce, account,
               rec(0, {"suggestedWindow": {"start": "2026-12-20T00:00:00Z", "end": "2026-12-22T00:00:00Z"},
                       "explanationURL": "https://ca.test/docs"}, retry="21600")])
put("helpers", 0, [b"Wed, 21 Oct 2015 07:28:00 GMT\n" + json.dumps(
    {"type": "urn:ietf:params:acme:error:malformed", "detail": "line one\nline two",
     "subproblems": [{"type": "x", "detail": "d", "identifier": {"value": "a"}}, 5]}).encode()])
put("helpers-seconds", 0, [b"120\n{}"])
