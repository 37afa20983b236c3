#!/usr/bin/env python3
"""Writes corpus/ for oidc_fuzz.cpp: what Meet (kpop/oidc-client), the sign-in page and OIDC
clients send (spec kopano-services.md; the requests tests/integration/test_authorize.py,
test_signin.py and test_openid_client.py make). The first byte of each file picks the parser."""
import base64
import json
import os
import subprocess

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus")
os.makedirs(out, exist_ok=True)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def put(name, selector, text):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([selector]) + (text.encode() if isinstance(text, str) else text))


def jwt(header, claims, sig=b"\x01" * 64):
    return ".".join([b64u(json.dumps(header).encode()), b64u(json.dumps(claims).encode()), b64u(sig)])


claims = {"iss": "https://meet.example.test", "sub": "dXNlcg", "aud": "konnect-meet", "exp": 1900000000,
          "iat": 1700000000, "nbf": 1700000000, "kc.identity": {"kc.i.un": "anna"}, "kc.isAccessToken": True}
put("jwt-es256", 0, jwt({"alg": "ES256", "kid": "e1", "typ": "JWT"}, claims))
put("jwt-rs256", 0, jwt({"alg": "RS256", "kid": "r1", "typ": "JWT"}, claims, b"\x02" * 256))
put("jwt-none", 0, jwt({"alg": "none"}, claims, b""))
put("jwt-hs256", 0, jwt({"alg": "HS256", "kid": "r1"}, claims, b"\x03" * 32))
put("jwt-refresh", 0, jwt({"alg": "PS256", "kid": "p1"}, {**claims, "kc.isRefreshToken": True, "jti": "j",
                                                            "kc.family": "f"}))
put("claims", 0, json.dumps(claims))

# JWKs: an EC key (RFC 7517 A.1) and an RSA key made here.
ec = {"kty": "EC", "crv": "P-256", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
      "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM", "use": "sig", "kid": "1", "alg": "ES256"}
pem = subprocess.run(["openssl", "genrsa", "2048"], capture_output=True, check=True).stdout
mod = subprocess.run(["openssl", "rsa", "-noout", "-modulus"], input=pem, capture_output=True,
                     check=True).stdout.decode().strip().split("=", 1)[1]
rsa = {"kty": "RSA", "n": b64u(bytes.fromhex(mod)), "e": "AQAB", "use": "sig", "kid": "r"}
put("jwk-ec", 1, json.dumps(ec))
put("jwk-rsa", 1, json.dumps(rsa))
put("jwks", 1, json.dumps({"keys": [ec, rsa, {"kty": "oct", "k": "AA"}]}))
put("discovery", 1, json.dumps({"issuer": "https://issuer.example", "jwks_uri": "https://issuer.example/jwks",
                                "id_token_signing_alg_values_supported": ["RS256", "ES256", "PS256"]}))

put("logon", 2, json.dumps({"state": "s1", "params": ["anna", "secret", "1"], "hello": {"scope": "openid",
                                                                                     "client_id": "c"}}))
put("logon-continue", 2, json.dumps({"state": "s2", "params": ["anna", "", "0"]}))
put("consent", 2, json.dumps({"state": "s", "allow": True, "scope": "openid profile email",
                              "client_id": "konnect-meet", "redirect_uri": "https://meet.example.test/meet/"}))
put("hello", 2, '{"state":"abc"}')

put("authorize-code", 3, "client_id=konnect-meet&redirect_uri=https%3A%2F%2Fmeet.example.test%2Fmeet%2F"
    "&response_type=code&scope=openid%20profile%20email%20offline_access&state=xyz&nonce=n"
    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&prompt=none")
put("authorize-implicit", 3, "client_id=konnect-meet&redirect_uri=https%3A%2F%2Fmeet.example.test%2Fmeet%2F"
    "%23oidc-callback&response_type=id_token%20token&scope=openid&state=s&nonce=n&response_mode=fragment"
    "&max_age=0&claims=%7B%22id_token%22%3A%7B%22name%22%3A%7B%22value%22%3A%22Guest%22%7D%7D%7D")
put("authorize-request", 3, "client_id=c&response_type=code&request=" +
    __import__("urllib.parse").parse.quote(json.dumps({"client_id": "c", "scope": "openid",
                                                      "claims": {"passthru": {"kopano/kwm/guest": {"type": "1"}}}})))

put("token-code", 4, "grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fmeet.example.test%2F"
    "&client_id=konnect-meet&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
put("token-refresh", 4, "grant_type=refresh_token&refresh_token=eyJ.eyJ.sig&client_id=c&client_secret=s%2Bx")
put("basic", 4, base64.b64encode(b"client%3Aid:se%20cret").decode())

put("cookie", 5, "__Host-palaver\n__Host-palaver=abc.def; other=1; __Host-palaver-consent=x")
put("cookie2", 5, "kc\n a=b ;kc=\"quoted\";kc=second")
put("url", 6, "https://meet.example.test:8443/meet/?a=b#oidc-callback")
put("url6", 6, "http://[2001:db8::1]:80/p")
put("claimsreq", 7, json.dumps({"id_token": {"guest": {"value": "1"}, "name": {"value": "Gast"}},
                                "userinfo": {"email": None}}))
