#!/usr/bin/env python3
"""A tiny token issuer for the Bearer flow of the distribution spec (test use only).

docker-registry (auth: token) sends clients here with `WWW-Authenticate: Bearer realm=...`.
GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...] with Basic USER:PASS answers
{"token": JWT, "expires_in": 300}; the JWT is RS256, signed with `openssl dgst` (stdlib only),
and carries its certificate in x5c so the registry checks it against its rootcertbundle.
Wrong credentials: 401. No credentials: a token granting nothing. Each request is logged as one
line "scope1 scope2 ..." in LOG, so tests can count token fetches (caching per scope).

usage: token_issuer.py PORT KEY CERT ISSUER USER PASS LOG
"""
import base64, json, subprocess, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, key, cert, issuer, user, password, log = sys.argv[1:8]
der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                     capture_output=True).stdout


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(claims):
    header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(der).decode()]}
    signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                         check=True, capture_output=True).stdout
    return signing_input + "." + b64u(sig)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        scopes = q.get("scope", [])
        with open(log, "a") as f:
            f.write(" ".join(scopes) + "\n")
        auth = self.headers.get("Authorization", "")
        granted = False
        if auth.startswith("Basic "):
            u_p = base64.b64decode(auth[6:]).decode()
            if u_p != user + ":" + password:
                self.send_response(401)
                self.end_headers()
                return
            granted = True
        access = []
        if granted:
            for s in scopes:
                parts = s.split(":")
                if len(parts) >= 3:
                    access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                                   "actions": parts[-1].split(",")})
        now = int(time.time())
        claims = {"iss": issuer, "sub": user if granted else "", "aud": q.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(now) + str(id(self)),
                  "access": access}
        body = json.dumps({"token": sign(claims), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
