#!/usr/bin/env python3
"""A small token server (distribution token-spec) for the registry tests.

    token_server.py --key KEY.pem --cert CERT.pem --issuer ISS --service SVC
                    --user USER --password PASS [--port 0] [--log FILE]

Listens on 127.0.0.1 only and prints the chosen port on the first line of
stdout. GET /token?service=SVC&scope=repository:NAME:pull,push&... answers
{"token", "access_token", "expires_in", "issued_at"} with an RS256 JWT that
grants every requested action (and registry:catalog:*) to USER; anonymous
requests get a token granting nothing; wrong credentials get 401. The JWT
header carries the signing certificate in `x5c`; the registry checks it
against its `rootcertbundle` (the same self-signed certificate). Signing is
done by `openssl dgst -sha256 -sign KEY.pem` (standard library only here).
Each request is logged as one line: "GET /token user=U scope=S -> STATUS".

--expires-in N sets the tokens' lifetime (expires_in and the JWT's exp;
default 300). --refresh-token RT accepts the OAuth2 flow: POST /token,
form-encoded, grant_type=refresh_token with refresh_token=RT (USER's
identity token) or grant_type=password with USER's username/password; the
answer has access_token, expires_in, issued_at and refresh_token=RT. Logged
as "POST /token grant=G user=U service=S scope=S -> STATUS".
"""
import argparse
import base64
import json
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def cert_der_b64(cert_path):
    der = subprocess.run(["openssl", "x509", "-in", cert_path, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return base64.b64encode(der).decode("ascii")


class TokenServer:
    def __init__(self, args):
        self.args = args
        self.x5c = cert_der_b64(args.cert)
        self.log_lock = threading.Lock()
        self.log_file = open(args.log, "a", buffering=1) if args.log else sys.stderr

    def log(self, line):
        with self.log_lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()

    def sign(self, claims):
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.args.key],
                             input=signing_input.encode("ascii"), check=True,
                             capture_output=True).stdout
        return signing_input + "." + b64url(sig)

    def grant(self, scopes, user):
        access = []
        if user is None:
            return access
        for scope in scopes:
            # resourcetype:name:actions; a name may hold ':' (host:port/repo)
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            rtype, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1]
            access.append({"type": rtype, "name": name,
                           "actions": [a for a in actions.split(",") if a]})
        return access

    def token_for(self, scopes, user):
        now = int(time.time())
        claims = {
            "iss": self.args.issuer,
            "sub": user or "",
            "aud": self.args.service,
            "exp": now + self.args.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "access": self.grant(scopes, user),
        }
        return self.sign(claims), now


def make_handler(server):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # the server logs its own lines
            pass

        def reply(self, status, body, extra=None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            scopes = query.get("scope", [])
            user, status = None, 200
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                try:
                    u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                except ValueError:
                    u, p = "", None
                if u == server.args.user and p == server.args.password:
                    user = u
                else:
                    status = 401
            if url.path != "/token":
                status = 404
            elif query.get("service", [""])[0] != server.args.service:
                status = 400
            server.log("GET %s user=%s service=%s scope=%s -> %d" % (
                url.path, user or "-", ",".join(query.get("service", [])) or "-",
                " ".join(scopes) or "-", status))
            if status == 401:
                return self.reply(401, {"errors": [{"code": "UNAUTHORIZED",
                                                    "message": "bad credentials"}]},
                                  {"WWW-Authenticate": 'Basic realm="token"'})
            if status != 200:
                return self.reply(status, {"errors": [{"code": "DENIED",
                                                       "message": "bad request"}]})
            token, now = server.token_for(scopes, user)
            issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
            return self.reply(200, {"token": token, "access_token": token,
                                    "expires_in": server.args.expires_in,
                                    "issued_at": issued})

        def do_POST(self):
            url = urlsplit(self.path)
            n = int(self.headers.get("Content-Length", "0") or 0)
            form = parse_qs(self.rfile.read(n).decode("utf-8", "replace"))
            one = lambda k: form.get(k, [""])[0]
            scopes = [w for s in form.get("scope", []) for w in s.split(" ") if w]
            grant, user, status = one("grant_type"), None, 200
            rt = server.args.refresh_token
            if grant == "refresh_token" and rt and one("refresh_token") == rt:
                user = server.args.user
            elif (grant == "password" and one("username") == server.args.user and
                  one("password") == server.args.password):
                user = server.args.user
            else:
                status = 401
            if url.path != "/token" or not rt:
                status = 404
            elif one("service") != server.args.service or not one("client_id"):
                status = 400
            if self.headers.get("Content-Type", "") != "application/x-www-form-urlencoded":
                status = 415
            server.log("POST %s grant=%s user=%s service=%s scope=%s -> %d" % (
                url.path, grant or "-", user or "-", one("service") or "-",
                " ".join(scopes) or "-", status))
            if status != 200:
                return self.reply(status, {"error": "invalid_grant"})
            token, now = server.token_for(scopes, user)
            issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
            return self.reply(200, {"access_token": token, "expires_in": server.args.expires_in,
                                    "issued_at": issued, "refresh_token": rt})

    return Handler


def main():
    ap = argparse.ArgumentParser()
    for name in ("key", "cert", "issuer", "service", "user", "password"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--expires-in", type=int, default=300)
    ap.add_argument("--refresh-token")
    args = ap.parse_args()
    ts = TokenServer(args)
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(ts))
    httpd.daemon_threads = True
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
