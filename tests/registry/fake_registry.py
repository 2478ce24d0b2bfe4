#!/usr/bin/env python3
"""A tiny fake registry for the failure paths of the registry client tests.

    fake_registry.py MODE [PORT] [LOGFILE] [OTHER]

Listens on 127.0.0.1 (PORT 0 or absent: the OS chooses) and prints the port
on the first line of stdout. It serves one image under every repository:
tag "latest" (and its digest) names an OCI manifest with a config blob and
one plain-tar layer (media type application/vnd.oci.image.layer.v1.tar).
GET /v2/<repo>/tags/list lists the tags TAGS and GET /v2/_catalog the
repositories REPOS, both paginated by n and last with a Link header (the
way distribution-spec says; docker-registry 2.8 ignores n for tags).
Requests are logged one per line: "METHOD PATH -> STATUS"; LOGFILE.headers
gets "METHOD PATH headers=NAMES" (the request's header names, lowercased,
comma-separated) and "AUTH METHOD PATH" when the request carried an
Authorization header. OTHER is the base URL ("http://127.0.0.1:PORT") of a second fake
server, for the modes that send clients to another host.

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
  ok        always normally (also: PUT/PATCH/DELETE /_fake/upload/<id>
            answer 201/202/204, the far end of an upload sent elsewhere)
  nested    "latest" names an index 6 wide and 4 deep: each index lists the
            same child 6 times (the leaves: the image's manifest, with
            platform linux/amd64 and no variant); 4 indexes + 1 manifest +
            2 blobs in all
  basic     every /v2/ request needs Basic auth (any credentials; 401
            with a Basic challenge without); blob GETs answer 307 to
            OTHER/_fake/content/<digest>; blob HEADs 404; uploads (POST)
            answer 202 with Location OTHER/_fake/upload/<id>
  token-crlf  every /v2/ request needs a bearer token (401 with a Bearer
            challenge, realm /_fake/token on this server); the token
            service hands out a token holding CR LF and an injected header
  realm-other  like token-crlf with a clean token, but the realm is
            http://localhost:PORT/_fake/token (another host name, plain http)
  token-expiry  like token-crlf with a clean token whose expires_in is
            9223372036854775807 (int64's largest: seconds past any clock)
  upload-reject  blob HEADs 404; POST uploads answer 202 with a Location
            whose query (_state=) is 400 bytes long; the closing PUT answers
            400 DIGEST_INVALID with a message; DELETE answers 404
            BLOB_UPLOAD_UNKNOWN (the cleanup's own error)
  link-loop tags/list: each page has one new tag, and every page's Link
            names last=a (the first page's): a client following Links
            naively loops forever
  link-grow tags/list: page k (last=k) lists 2^k tags of 100 bytes and
            links to last=k+1, without end
  trickle   tags/list and manifests send their headers, then 1 byte/s
  upload-retry  a working upload endpoint (POST, PATCH with
            Content-Range, PUT ?digest= checked with hashlib; the blob is
            then served) whose first PUT of each upload and first PATCH of
            each range answer 503 after reading the body; every upload
            request's body is logged as "BODY METHOD PATH LENGTH SHA256"
            (so a test sees the bytes sent again); a body shorter than its
            Content-Length (the client gave up) is logged "SHORT METHOD
            PATH GOT of LENGTH" and committed nowhere
  upload    the same upload endpoint, logging the same, without the 503s
            (both: a PATCH whose Content-Range does not start at the
            bytes held answers 416; GET on an upload URL answers 204 with
            Range: 0-<last byte held> and Location, 404 when unknown)
  referrers  a small registry that keeps what it is sent, per repository,
            and supports the referrers API (distribution-spec v1.1): the
            upload endpoint of "upload", a blob served only by the
            repositories it was uploaded or mounted (POST ?mount=&from=:
            201 when the source repository has it) to; manifest PUTs stored (by tag and
            digest; a digest reference is checked with hashlib) and served
            by GET and HEAD; a PUT of a manifest with a subject answers
            "OCI-Subject: <subject digest>"; GET /v2/<repo>/referrers/<digest>
            answers 200 with an index of the stored manifests whose subject
            is <digest> (artifactType: the manifest's, else its config's
            mediaType; its annotations), filtered by ?artifactType= with
            "OCI-Filters-Applied: artifactType"; a repository named
            no-such-repo... answers 404 NAME_UNKNOWN there; the subject
            "broken_subject"
            of /_fake/blobs gets a 200 whose body is not an image index
  referrers-unfiltered  the same, but the artifactType filter is ignored
            (no OCI-Filters-Applied: the client must filter)
  store     the same store without the referrers API (as a registry of
            distribution-spec v1.0): /referrers/ answers 404 (text "404
            page not found", as docker-registry 2.8) and a PUT no
            OCI-Subject; any body is stored under the Content-Type it came
            with (no validation: what a broken or hostile registry may serve)
  referrers-hostile  the plain image, every manifest HEAD by digest
            answering 200 (so a sync's destination has everything and only
            walks), and a hostile referrers graph per repository (its
            first path component), nodes N<i> = sha256(b"n<i>"), ROOT the
            image: cycle/... ROOT -> N1; N1 -> ROOT, N1 (itself), N2;
            N2 -> N1. deep/... ROOT -> N1 -> N2 -> ... -> N30.
            fanout/... ROOT -> N1..N50; each Ni -> N1..N50 listed 40 times
            (2000 entries, none new)
  evil-strings  tags/list lists tags holding ESC, CR and BEL; manifest
            "evil-index" is an index whose entry's mediaType holds ESC;
            "raw-esc" a body holding raw ESC and BEL bytes (not JSON); other
            manifest GETs answer 404 with a message holding ESC and LF;
            "bad-ctype" answers 200 with a Content-Type that is not UTF-8
            ("application/vnd.\\xff\\xfe+json")
  liar      the "upload" endpoint and the image, with one lie per
            repository (its first path component):
              lie-digest/...  GET of a manifest by tag answers a
                              Docker-Content-Digest of other bytes
              no-digest/...   HEAD of a manifest by tag sends no
                              Docker-Content-Digest
              post-noloc/...  POST of an upload answers 202 without Location
              patch-noloc/... PATCH answers 202 without Location
              put-200/...     the closing PUT answers 200, not 201
              range-lie/...   GET on an upload URL claims 1000000 bytes
                              more than it holds
              range-huge/...  GET on an upload URL answers Range
                              0-9223372036854775808 (past int64)
              range-short/... GET on an upload URL claims 1000 bytes
                              fewer than it holds (a PATCH from there
                              answers 416)
              bad-list/...    tags/list answers 200 with tags that are no
                              list ({"name":..,"tags":"nope"})
              not-json/...    tags/list answers 200 with a body that is no
                              JSON
              bad-link/...    tags/list answers a page whose Link header
                              has no <URL>
              empty-loop/...  tags/list answers empty pages, each linking
                              to the next
              token-nojson/... every request needs a bearer token; the
                              token service answers 200 with no JSON
              token-empty/... the same; the token service answers
                              {"token":""}
              realm-ftp/...   a Bearer challenge whose realm is ftp://
              bad-challenge/... a 401 whose WWW-Authenticate does not parse
DELETE of a manifest or blob answers 405 UNSUPPORTED (deletes disabled) in
every mode but the stores.
GET /_fake/blobs answers the JSON {"config", "layer", "manifest": their
digests, "config_size", "layer_size", "manifest_size", "bad_layer_sha256":
the digest of the bytes the mismatch mode sends, "broken_subject": see the
referrers mode} (for the tests; never failed).
"""
import hashlib
import io
import json
import sys
import tarfile
import threading
import time
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
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def nested_indexes(width=6, depth=4):
    """{digest: body} of the indexes, and the top one's body: each lists
    its child `width` times; the leaves are MANIFEST (linux/amd64)."""
    child = {"mediaType": MANIFEST_TYPE, "digest": sha256(MANIFEST),
             "size": len(MANIFEST),
             "platform": {"os": "linux", "architecture": "amd64"}}
    docs = {}
    body = None
    for _ in range(depth):
        body = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE,
                           "manifests": [child] * width},
                          separators=(",", ":")).encode()
        docs[sha256(body)] = body
        child = {"mediaType": INDEX_TYPE, "digest": sha256(body), "size": len(body)}
    return docs, body


NESTED, NESTED_TOP = nested_indexes()
BROKEN_SUBJECT = sha256(b"a subject whose referrers answer is broken")


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
    def __init__(self, mode, log, other=None, port=0):
        self.mode = mode
        self.other = other
        self.port = port
        self.uploads = 0
        self.hits = {}
        self.lock = threading.Lock()
        self.log_file = log
        self.headers_file = open(log.name + ".headers", "a") if log is not sys.stderr else log
        self.partial = {}  # upload-retry: upload id -> the bytes so far
        self.failed = set()  # upload-retry: requests answered 503 already
        self.stored = {}  # referrers: (repo, reference) -> (body, media type)
        self.repo_blobs = set()  # referrers, store: (repo, digest) held

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

    def hits_of(self, key):
        with self.lock:
            n = self.hits.get(key, 0) + 1
            self.hits[key] = n
        return n

    def log(self, line, headers=False):
        f = self.headers_file if headers else self.log_file
        with self.lock:
            f.write(line + "\n")
            f.flush()


def make_handler(state):
    blobs = {sha256(CONFIG): CONFIG, sha256(LAYER): LAYER}
    manifests = {"latest": MANIFEST, sha256(MANIFEST): MANIFEST}
    types = {}
    if state.mode == "nested":
        manifests.update(NESTED)
        manifests["latest"] = NESTED_TOP
        for d in NESTED:
            types[d] = INDEX_TYPE
        types["latest"] = INDEX_TYPE

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, status, body=b"", headers=None, head=False):
            state.log("%s %s -> %d" % (self.command, self.path, status))
            self.log_headers()
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

        def log_headers(self):
            names = ",".join(k.lower() for k in self.headers.keys())
            state.log("%s %s headers=%s" % (self.command, self.path, names), True)
            if "Authorization" in self.headers:
                state.log("AUTH %s %s" % (self.command, self.path), True)

        def trickle(self, n):
            state.log("%s %s -> 200 (trickling)" % (self.command, self.path))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            try:
                for _ in range(n):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            self.close_connection = True

        def auth_needed(self, path):
            """A 401 when this mode wants credentials the request lacks."""
            if not path.startswith("/v2/"):
                return False
            auth = self.headers.get("Authorization", "")
            if state.mode == "basic" and not auth.startswith("Basic "):
                self.error(401, "UNAUTHORIZED", "authentication required",
                           self.command == "HEAD",
                           {"WWW-Authenticate": 'Basic realm="fake"'})
                return True
            if state.mode in ("token-crlf", "realm-other", "token-expiry") and not auth.startswith("Bearer "):
                host = "localhost" if state.mode == "realm-other" else "127.0.0.1"
                realm = "http://%s:%d/_fake/token" % (host, state.port)
                self.error(401, "UNAUTHORIZED", "authentication required",
                           self.command == "HEAD",
                           {"WWW-Authenticate": 'Bearer realm="%s",service="fake",scope="repository:x:pull"' % realm})
                return True
            return False

        def listing_mode(self, path, query, head):
            q = parse_qs(query)
            last = q.get("last", [None])[0]
            name = path[len("/v2/"):-len("/tags/list")]
            if state.mode == "link-loop":
                tag = "a" if last is None else "t%d" % state.hits_of("loop")
                return self.send(200, json.dumps({"name": name, "tags": [tag]}).encode(),
                                 {"Content-Type": "application/json",
                                  "Link": '<%s?last=a&n=1>; rel="next"' % path}, head)
            k = int(last) if last and last.isdigit() else 0
            tags = ["%d-%s" % (k, "x" * 90 + "%08d" % i) for i in range(2 ** min(k, 16))]
            return self.send(200, json.dumps({"name": name, "tags": tags}).encode(),
                             {"Content-Type": "application/json",
                              "Link": '<%s?last=%d>; rel="next"' % (path, k + 1)}, head)

        def route(self, head):
            path, _, query = self.path.partition("?")
            if path == "/_fake/token" and state.mode == "liar":
                kind = parse_qs(query).get("kind", [""])[0]
                body = b"<html>no token here</html>" if kind == "nojson" else b'{"token":""}'
                return self.send(200, body, {"Content-Type": "application/json"}, head)
            if path == "/_fake/token":
                tok = "fake-token\r\nX-Injected: yes" if state.mode == "token-crlf" else "fake-token"
                if state.mode == "token-expiry":
                    return self.send(200, b'{"token":"fake-token","expires_in":9223372036854775807}',
                                     {"Content-Type": "application/json"}, head)
                return self.send(200, json.dumps({"token": tok}).encode(),
                                 {"Content-Type": "application/json"}, head)
            if path.startswith("/_fake/upload/"):
                if self.command == "PUT":
                    return self.send(201, b"", {"Location": "/v2/x/blobs/" + parse_qs(query).get("digest", [""])[0]})
                if self.command == "PATCH":
                    return self.send(202, b"", {"Location": path, "Range": "0-0"})
                if self.command == "DELETE":
                    return self.send(204)
            if self.auth_needed(path):
                return None
            if state.mode == "evil-strings" and path.endswith("/tags/list"):
                return self.send(200, json.dumps({"name": "x", "tags": [
                    "plain", "red\x1b[31mtag", "cr\rover", "bell\x07"]}).encode(),
                    {"Content-Type": "application/json"}, head)
            if state.mode == "evil-strings" and path.endswith("/manifests/evil-index"):
                body = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [
                    {"mediaType": "application/x\x1b[31mred", "digest": sha256(b"x"), "size": 1}]}).encode()
                return self.send(200, body, {"Content-Type": INDEX_TYPE}, head)
            if state.mode == "evil-strings" and path.endswith("/manifests/" + sha256(b"x")):
                return self.send(200, b"x", {"Content-Type": "application/octet-stream"}, head)
            if state.mode == "evil-strings" and path.endswith("/manifests/bad-ctype"):
                # http.server writes header values as latin-1: bytes 0xff 0xfe
                return self.send(200, b"{}", {"Content-Type": "application/vnd.\xff\xfe+json"}, head)
            if state.mode == "evil-strings" and path.endswith("/manifests/raw-esc"):
                return self.send(200, b'{"schemaVersion":2,"x":"\x1b[2J\x07"}\n', {"Content-Type": MANIFEST_TYPE}, head)
            if state.mode == "evil-strings" and "/manifests/" in path:
                return self.error(404, "MANIFEST_UNKNOWN", "no\x1b[2Jsuch\nmanifest", head)
            if state.mode == "trickle" and (path.endswith("/tags/list") or "/manifests/" in path):
                return self.trickle(600)
            if state.mode in ("link-loop", "link-grow") and path.startswith("/v2/") \
                    and path.endswith("/tags/list"):
                return self.listing_mode(path, query, head)
            if state.mode == "referrers-hostile" and path.startswith("/v2/"):
                done = self.hostile_referrers(path, head)
                if done is not False:
                    return done
            if state.mode == "liar" and path.startswith("/v2/"):
                done = self.lie(path, query, head)
                if done is not False:
                    return done
            parts0 = path[len("/v2/"):].rsplit("/", 3) if path.startswith("/v2/") else []
            if len(parts0) >= 3 and parts0[-2] == "uploads" or path.endswith("/blobs/uploads/"):
                return self.upload(path, query, head)
            if state.mode in ("referrers", "referrers-unfiltered", "store") and path.startswith("/v2/") and (
                    "/manifests/" in path or "/referrers/" in path):
                return self.store(path, query, head)
            if path == "/_fake/blobs":
                return self.send(200, json.dumps({
                    "config": sha256(CONFIG), "layer": sha256(LAYER),
                    "manifest": sha256(MANIFEST), "layer_size": len(LAYER),
                    "config_size": len(CONFIG), "manifest_size": len(MANIFEST),
                    "bad_layer_sha256": sha256(BAD_LAYER),
                    "broken_subject": BROKEN_SUBJECT}).encode(),
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
            if len(parts) == 3 and parts[1] in ("manifests", "blobs") and self.command == "DELETE":
                # as docker-registry with storage.delete disabled
                return self.error(405, "UNSUPPORTED", "The operation is unsupported.", head)
            if len(parts) == 3 and parts[1] == "manifests":
                body = manifests.get(parts[2])
                if body is None and state.mode == "mismatch" and parts[2].startswith("sha256:"):
                    body = MANIFEST
                if body is None:
                    return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown", head)
                return self.send(200, body, {"Content-Type": types.get(parts[2], MANIFEST_TYPE),
                                             "Docker-Content-Digest": sha256(body)}, head)
            if path.startswith("/_fake/content/"):
                body = blobs.get(path[len("/_fake/content/"):])
                if body is None:
                    return self.error(404, "BLOB_UNKNOWN", "blob unknown", head)
                return self.send(200, body, {"Content-Type": "application/octet-stream"}, head)
            if len(parts) == 3 and parts[1] == "blobs":
                if state.mode in ("basic", "upload-reject") and head:
                    return self.error(404, "BLOB_UNKNOWN", "blob unknown", head)
                if state.mode == "redirect" and not head and parts[2] in blobs:
                    return self.send(307, b"", {"Location": "/_fake/content/" + parts[2]})
                if state.mode == "basic" and not head and parts[2] in blobs:
                    return self.send(307, b"", {"Location": "%s/_fake/content/%s" % (state.other, parts[2])})
                body = blobs.get(parts[2])
                if state.mode in ("referrers", "referrers-unfiltered", "store") and (parts[0], parts[2]) not in state.repo_blobs:
                    body = None
                if body is None:
                    return self.error(404, "BLOB_UNKNOWN", "blob unknown", head)
                if state.mode == "mismatch" and body is LAYER:
                    body = BAD_LAYER
                return self.send(200, body, {"Content-Type": "application/octet-stream",
                                             "Docker-Content-Digest": parts[2]}, head)
            return self.error(404, "NAME_UNKNOWN", "not served by the fake", head)

        def upload(self, path, query, head):
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                # the client went away mid-body: nothing is committed (a
                # real registry answers 500 or drops it the same way)
                state.log("SHORT %s %s %d of %d" % (self.command, self.path, len(body), length))
                self.close_connection = True
                return None
            if state.mode in ("upload", "upload-retry", "referrers", "referrers-unfiltered", "store", "liar"):
                return self.upload_retry(path, query, body)
            if self.command == "POST":
                with state.lock:
                    state.uploads += 1
                    n = state.uploads
                if state.mode == "basic":
                    return self.send(202, b"", {"Location": "%s/_fake/upload/%d" % (state.other, n)})
                if state.mode == "upload-reject":
                    return self.send(202, b"", {"Location": "%s%d?_state=%s" % (path, n, "S" * 400)})
            if state.mode == "upload-reject" and self.command == "PUT":
                return self.error(400, "DIGEST_INVALID",
                                  "provided digest did not match uploaded content")
            if state.mode == "upload-reject" and self.command == "DELETE":
                return self.error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
            return self.error(404, "NAME_UNKNOWN", "not served by the fake", head)

        def upload_retry(self, path, query, body):
            repo = path[len("/v2/"):path.index("/blobs/uploads/")]
            if self.command != "POST":
                state.log("BODY %s %s %d %s" % (self.command, self.path, len(body), sha256(body)))
            if self.command == "POST":
                q = parse_qs(query)
                mount, source = q.get("mount", [None])[0], q.get("from", [None])[0]
                if mount and state.mode in ("referrers", "referrers-unfiltered", "store"):
                    with state.lock:
                        there = (source, mount) in state.repo_blobs
                        if there:
                            state.repo_blobs.add((repo, mount))
                    if there:
                        return self.send(201, b"", {"Location": "/v2/%s/blobs/%s" % (repo, mount),
                                                    "Docker-Content-Digest": mount})
                with state.lock:
                    state.uploads += 1
                    n = str(state.uploads)
                    state.partial[n] = b""
                return self.send(202, b"", {"Location": "/v2/%s/blobs/uploads/%s" % (repo, n),
                                            "Range": "0-0"})
            uid = path.rsplit("/", 1)[1]
            if self.command == "GET":
                # the upload's status (distribution-spec): the bytes held
                with state.lock:
                    data = state.partial.get(uid)
                if data is None:
                    return self.error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
                end = len(data) - 1 if data else 0
                if state.mode == "liar" and repo.startswith("range-lie/"):
                    end = len(data) + 1000000
                if state.mode == "liar" and repo.startswith("range-huge/"):
                    return self.send(204, b"", {"Location": path, "Range": "0-9223372036854775808"})
                if state.mode == "liar" and repo.startswith("range-short/") and len(data) > 1000:
                    end = len(data) - 1001
                return self.send(204, b"", {"Location": path, "Range": "0-%d" % end})
            key = (self.command, uid, self.headers.get("Content-Range", ""))
            with state.lock:
                first = key not in state.failed
                state.failed.add(key)
                known = uid in state.partial
            if not known:
                return self.error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
            if first and state.mode == "upload-retry":
                return self.error(503, "UNAVAILABLE", "try again later")
            if self.command == "PATCH":
                start = (self.headers.get("Content-Range") or "0-0").split("-")[0]
                with state.lock:
                    held = len(state.partial[uid])
                if start.isdigit() and int(start) != held:
                    return self.error(416, "BLOB_UPLOAD_INVALID",
                                      "range does not start at %d" % held)
            with state.lock:
                state.partial[uid] += body
                data = state.partial[uid]
            if self.command == "PATCH":
                return self.send(202, b"", {"Location": path, "Range": "0-%d" % (len(data) - 1)})
            if self.command == "PUT":
                digest = parse_qs(query).get("digest", [""])[0]
                if sha256(data) != digest:
                    return self.error(400, "DIGEST_INVALID",
                                      "provided digest did not match uploaded content")
                with state.lock:
                    del state.partial[uid]
                    blobs[digest] = data
                    state.repo_blobs.add((repo, digest))
                return self.send(201, b"", {"Location": "/v2/%s/blobs/%s" % (repo, digest),
                                            "Docker-Content-Digest": digest})
            return self.error(405, "UNSUPPORTED", "not served by the fake")

        def hostile_referrers(self, path, head):
            """The referrers-hostile mode's graph; False: answer normally."""
            first = path[len("/v2/"):].split("/", 1)[0]
            parts = path[len("/v2/"):].rsplit("/", 2)
            if len(parts) == 3 and parts[1] == "manifests" and head and parts[2].startswith("sha256:"):
                body = MANIFEST if parts[2] == sha256(MANIFEST) else b"x" * 100
                return self.send(200, body, {"Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": parts[2]}, True)
            if len(parts) != 3 or parts[1] != "referrers":
                return False
            root, d = sha256(MANIFEST), parts[2]

            def n(i):
                return sha256(b"n%d" % i)
            kids = []
            if first == "cycle":
                kids = {root: [n(1)], n(1): [root, n(1), n(2)], n(2): [n(1)]}.get(d, [])
            elif first == "deep":
                chain = [root] + [n(i) for i in range(1, 31)]
                kids = [chain[chain.index(d) + 1]] if d in chain[:-1] else []
            elif first == "fanout":
                fan = [n(i) for i in range(1, 51)]
                kids = fan if d == root else fan * 40 if d in fan else []
            body = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [
                {"mediaType": MANIFEST_TYPE, "digest": k, "size": 100, "artifactType": "application/x.t"}
                for k in kids]}).encode()
            return self.send(200, body, {"Content-Type": INDEX_TYPE}, head)

        def lie(self, path, query, head):
            """The liar mode's lies; False: answer normally."""
            first = path[len("/v2/"):].split("/", 1)[0]
            challenge = {
                "token-nojson": 'Bearer realm="http://127.0.0.1:%d/_fake/token?kind=nojson",service="fake"',
                "token-empty": 'Bearer realm="http://127.0.0.1:%d/_fake/token?kind=empty",service="fake"',
                "realm-ftp": 'Bearer realm="ftp://127.0.0.1:%d/token",service="fake"',
                "bad-challenge": 'Bearer realm="unterminated, service=%d',
            }.get(first)
            if challenge and not self.headers.get("Authorization", "").startswith("Bearer "):
                return self.error(401, "UNAUTHORIZED", "authentication required", head,
                                  {"WWW-Authenticate": challenge % state.port})
            if first == "lie-digest" and self.command == "GET" and path.endswith("/manifests/latest"):
                return self.send(200, MANIFEST, {"Content-Type": MANIFEST_TYPE,
                                                 "Docker-Content-Digest": sha256(b"other bytes")})
            if first == "no-digest" and head and path.endswith("/manifests/latest"):
                return self.send(200, MANIFEST, {"Content-Type": MANIFEST_TYPE}, head)
            if first == "post-noloc" and self.command == "POST":
                return self.send(202, b"")
            if first in ("patch-noloc", "put-200") and self.command in ("PATCH", "PUT") \
                    and "/blobs/uploads/" in path:
                length = int(self.headers.get("Content-Length", "0") or 0)
                if length:
                    self.rfile.read(length)
                if self.command == "PATCH" and first == "patch-noloc":
                    return self.send(202, b"", {"Range": "0-0"})
                if self.command == "PUT" and first == "put-200":
                    return self.send(200, b"")
                return False
            if path.endswith("/tags/list"):
                ctype = {"Content-Type": "application/json"}
                if first == "bad-list":
                    return self.send(200, b'{"name":"x","tags":"nope"}', ctype, head)
                if first == "not-json":
                    return self.send(200, b"<html>nope</html>", ctype, head)
                if first == "bad-link":
                    return self.send(200, b'{"name":"x","tags":["a"]}',
                                     dict(ctype, Link="next; rel=\"next\""), head)
                if first == "empty-loop":
                    k = int(parse_qs(query).get("last", ["0"])[0] or 0)
                    return self.send(200, b'{"name":"x","tags":[]}',
                                     dict(ctype, Link='<%s?last=%d>; rel="next"' % (path, k + 1)), head)
            return False

        def store(self, path, query, head):
            """The referrers modes: manifests kept per repository, and
            the referrers API over them."""
            repo, kind, ref = path[len("/v2/"):].rsplit("/", 2)
            if kind == "referrers":
                if state.mode == "store":
                    # as docker-registry 2.8 answers a route it lacks
                    return self.send(404, b"404 page not found\n",
                                     {"Content-Type": "text/plain; charset=utf-8"}, head)
                if repo.startswith("no-such-repo"):
                    return self.error(404, "NAME_UNKNOWN", "repository name not known to registry", head)
                if self.command != "GET":
                    return self.error(405, "UNSUPPORTED", "not served by the fake", head)
                if ref == BROKEN_SUBJECT:
                    return self.send(200, b'{"schemaVersion":2,"manifests":{}}',
                                     {"Content-Type": INDEX_TYPE}, head)
                want = parse_qs(query).get("artifactType", [None])[0]
                if state.mode == "referrers-unfiltered":
                    want = None
                entries, seen = [], set()
                with state.lock:
                    items = sorted(state.stored.items())
                for (r, _), (body, mt) in items:
                    digest = sha256(body)
                    if r != repo or digest in seen:
                        continue
                    seen.add(digest)
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        continue
                    if not isinstance(doc, dict) or (doc.get("subject") or {}).get("digest") != ref:
                        continue
                    d = {"mediaType": mt, "digest": digest, "size": len(body)}
                    at = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
                    if at:
                        d["artifactType"] = at
                    if doc.get("annotations"):
                        d["annotations"] = doc["annotations"]
                    if want is None or at == want:
                        entries.append(d)
                headers = {"Content-Type": INDEX_TYPE}
                if want is not None:
                    headers["OCI-Filters-Applied"] = "artifactType"
                body = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE,
                                   "manifests": entries}).encode()
                return self.send(200, body, headers, head)
            if kind != "manifests":
                return self.error(404, "NAME_UNKNOWN", "not served by the fake", head)
            if self.command == "PUT":
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                digest = sha256(body)
                if ref.startswith("sha256:") and ref != digest:
                    return self.error(400, "DIGEST_INVALID", "manifest digest did not match")
                mt = self.headers.get("Content-Type", MANIFEST_TYPE)
                with state.lock:
                    state.stored[(repo, ref)] = (body, mt)
                    state.stored[(repo, digest)] = (body, mt)
                headers = {"Location": "/v2/%s/manifests/%s" % (repo, digest),
                           "Docker-Content-Digest": digest}
                try:
                    subject = (json.loads(body).get("subject") or {}).get("digest")
                except (ValueError, AttributeError):
                    subject = None
                if subject and state.mode != "store":
                    headers["OCI-Subject"] = subject
                return self.send(201, b"", headers)
            if self.command in ("GET", "HEAD"):
                with state.lock:
                    found = state.stored.get((repo, ref))
                if found is None:
                    return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown", head)
                return self.send(200, found[0], {"Content-Type": found[1],
                                                 "Docker-Content-Digest": sha256(found[0])}, head)
            return self.error(405, "UNSUPPORTED", "not served by the fake", head)

        def do_GET(self):
            self.route(False)

        def do_HEAD(self):
            self.route(True)

        def do_POST(self):
            self.route(False)

        def do_PUT(self):
            self.route(False)

        def do_PATCH(self):
            self.route(False)

        def do_DELETE(self):
            self.route(False)

    return Handler


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
    if mode not in ("mismatch", "503", "429", "redirect", "ok", "nested", "basic",
                    "token-crlf", "realm-other", "token-expiry", "upload-reject", "link-loop",
                    "link-grow", "trickle", "evil-strings", "upload-retry",
                    "upload", "referrers", "referrers-unfiltered", "store", "liar", "referrers-hostile"):
        sys.exit("unknown mode " + mode)
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    log = open(sys.argv[3], "a") if len(sys.argv) > 3 else sys.stderr
    other = sys.argv[4] if len(sys.argv) > 4 else None
    state = State(mode, log, other)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(state))
    state.port = httpd.server_address[1]
    httpd.daemon_threads = True
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
