#!/usr/bin/env python3
"""A tiny fake registry for the failure paths of the registry client tests.

    fake_registry.py MODE [PORT] [LOGFILE]

Listens on 127.0.0.1 (PORT 0 or absent: the OS chooses) and prints the port
on the first line of stdout. It serves one image under every repository:
tag "latest" (and its digest) names an OCI manifest with a config blob and
one plain-tar layer (media type application/vnd.oci.image.layer.v1.tar).
GET /v2/<repo>/tags/list lists the tags TAGS and GET /v2/_catalog the
repositories REPOS, both paginated by n and last with a Link header (the
way distribution-spec says; docker-registry 2.8 ignores n for tags).
Requests are logged one per line: "METHOD PATH -> STATUS".

MODE:
  mismatch  the layer blob's GET returns other bytes of the same length
            than the digest in the manifest names (a client must report a
            digest mismatch and keep nothing of it); a manifest asked for by
            an unknown digest answers the image's manifest (whose digest is
            another)
  503       each path answers 503 twice, then normally
  429       each path answers 429 with "Retry-After: 1" once, then normally
  redirect  a blob GET answers 307 with a relative Location,
            /_fake/content/<digest>, which serves the bytes (the way
            registries send clients to a storage backend)
  ok        always normally
GET /_fake/blobs answers the JSON {"config", "layer", "manifest": their
digests, "config_size", "layer_size", "manifest_size", "bad_layer_sha256":
the digest of the bytes the mismatch mode sends} (for the tests; never
failed).
"""
import hashlib
import io
import json
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layer():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        content = b"hello from the fake registry\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mode, info.mtime = len(content), 0o644, 0
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


LAYER = make_layer()
# Same length, different bytes: only a digest check can tell.
BAD_LAYER = LAYER[:-1] + bytes([LAYER[-1] ^ 0xFF])
CONFIG = json.dumps({
    "architecture": "amd64", "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": [sha256(LAYER)]},
}, sort_keys=True, separators=(",", ":")).encode()
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": sha256(CONFIG), "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": sha256(LAYER), "size": len(LAYER)}],
}, separators=(",", ":")).encode()
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
TAGS = ["latest", "t1", "t2", "t3", "t4"]
REPOS = ["fake/a", "fake/b", "fake/c"]


def page(items, query, path):
    """The page of sorted items after `last`, n of them, and a Link header
    to the next page (None on the last page)."""
    q = parse_qs(query)
    last = q.get("last", [None])[0]
    rest = [i for i in sorted(items) if last is None or i > last]
    n = int(q.get("n", ["0"])[0] or 0)
    if n <= 0 or n >= len(rest):
        return rest, None
    chunk = rest[:n]
    return chunk, '<%s?%s>; rel="next"' % (path, urlencode({"last": chunk[-1], "n": n}))


class State:
    def __init__(self, mode, log):
        self.mode = mode
        self.hits = {}
        self.lock = threading.Lock()
        self.log_file = log

    def failure(self, path):
        """The status to fail this request with, or None."""
        with self.lock:
            n = self.hits.get(path, 0)
            self.hits[path] = n + 1
        if self.mode == "503" and n < 2:
            return 503
        if self.mode == "429" and n < 1:
            return 429
        return None

    def log(self, line):
        with self.lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()


def make_handler(state):
    blobs = {sha256(CONFIG): CONFIG, sha256(LAYER): LAYER}
    manifests = {"latest": MANIFEST, sha256(MANIFEST): MANIFEST}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, status, body=b"", headers=None, head=False):
            state.log("%s %s -> %d" % (self.command, self.path, status))
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def error(self, status, code, message, head=False, headers=None):
            body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
            self.send(status, body, dict({"Content-Type": "application/json"}, **(headers or {})), head)

        def listing(self, key, name, items, path, query, head):
            chunk, link = page(items, query, path)
            body = {key: chunk}
            if name:
                body = {"name": name, key: chunk}
            headers = {"Content-Type": "application/json"}
            if link:
                headers["Link"] = link
            return self.send(200, json.dumps(body).encode(), headers, head)

        def route(self, head):
            path, _, query = self.path.partition("?")
            if path == "/_fake/blobs":
                return self.send(200, json.dumps({
                    "config": sha256(CONFIG), "layer": sha256(LAYER),
                    "manifest": sha256(MANIFEST), "layer_size": len(LAYER),
                    "config_size": len(CONFIG), "manifest_size": len(MANIFEST),
                    "bad_layer_sha256": sha256(BAD_LAYER)}).encode(),
                    {"Content-Type": "application/json"}, head)
            status = state.failure(self.command + " " + path)
            if status == 503:
                return self.error(503, "UNAVAILABLE", "try again later", head)
            if status == 429:
                return self.error(429, "TOOMANYREQUESTS", "slow down", head,
                                  {"Retry-After": "1"})
            if path == "/v2/":
                return self.send(200, b"{}", {"Content-Type": "application/json"}, head)
            if path == "/v2/_catalog":
                return self.listing("repositories", None, REPOS, path, query, head)
            if path.startswith("/v2/") and path.endswith("/tags/list"):
                return self.listing("tags", path[len("/v2/"):-len("/tags/list")], TAGS, path, query, head)
            parts = path[len("/v2/"):].rsplit("/", 2) if path.startswith("/v2/") else []
            if len(parts) == 3 and parts[1] == "manifests":
                body = manifests.get(parts[2])
                if body is None and state.mode == "mismatch" and parts[2].startswith("sha256:"):
                    body = MANIFEST
                if body is None:
                    return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown", head)
                return self.send(200, body, {"Content-Type": MANIFEST_TYPE,
                                             "Docker-Content-Digest": sha256(body)}, head)
            if path.startswith("/_fake/content/"):
                body = blobs.get(path[len("/_fake/content/"):])
                if body is None:
                    return self.error(404, "BLOB_UNKNOWN", "blob unknown", head)
                return self.send(200, body, {"Content-Type": "application/octet-stream"}, head)
            if len(parts) == 3 and parts[1] == "blobs":
                if state.mode == "redirect" and not head and parts[2] in blobs:
                    return self.send(307, b"", {"Location": "/_fake/content/" + parts[2]})
                body = blobs.get(parts[2])
                if body is None:
                    return self.error(404, "BLOB_UNKNOWN", "blob unknown", head)
                if state.mode == "mismatch" and body is LAYER:
                    body = BAD_LAYER
                return self.send(200, body, {"Content-Type": "application/octet-stream",
                                             "Docker-Content-Digest": parts[2]}, head)
            return self.error(404, "NAME_UNKNOWN", "not served by the fake", head)

        def do_GET(self):
            self.route(False)

        def do_HEAD(self):
            self.route(True)

    return Handler


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
    if mode not in ("mismatch", "503", "429", "redirect", "ok"):
        sys.exit("unknown mode " + mode)
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    log = open(sys.argv[3], "a") if len(sys.argv) > 3 else sys.stderr
    httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(State(mode, log)))
    httpd.daemon_threads = True
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
