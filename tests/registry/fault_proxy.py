#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of a registry, for the transfer tests.

    fault_proxy.py UPSTREAM_PORT [PORT]

Listens on 127.0.0.1 (PORT 0 or absent: the OS chooses), prints its port on
the first line of stdout, and forwards every request to 127.0.0.1:UPSTREAM_PORT
(the Host header kept, so that a registry's Location headers point back at
the proxy). Faults apply to blob requests (a path with /blobs/) and are set
with GET /_proxy/config?KEY=VALUE&... (every call starts from no faults):

  delay_ms=N      a blob GET (or an upload PUT/PATCH) waits N ms before it is
                  forwarded: transfers under way overlap, and the proxy sees
                  how many run at once
  cut_after=N     a blob GET answered 200 or 206 with more than N bytes sends
                  its headers and N bytes of the body, then closes the
                  connection (cut_times times in all; default once), the way
                  a dropped connection looks
  cut_times=N     see cut_after
  ignore_range=1  the Range header of blob GETs is dropped: the registry
                  answers 200 with the whole blob
  bad_range=1     a blob GET with a Range header gets the whole blob as a
                  206 whose Content-Range starts at 0 (not the range asked)
  cut_upload=N    a PATCH of an upload with more than N bytes forwards only
                  its first N (Content-Range and Content-Length made to fit),
                  then closes the client's connection without an answer
                  (cut_times times): the registry holds part of the chunk
  cut_upload_at=N the same for the PATCH whose Content-Range holds byte N of
                  the blob: it forwards the bytes before N only
  cut_put=N       an upload PUT with a body of more than N bytes forwards
                  its first N as a PATCH of the same upload (Content-Range
                  0-(N-1), no digest=): the registry keeps them, as one that
                  stores a PUT's body while it arrives; then closes the
                  client's connection without an answer (cut_times times):
                  a monolithic PUT cut mid-body
  lose_put=K      the Kth upload PUT since this configure call (1: the
                  first) is forwarded whole, then its answer is lost: the
                  client's connection closes without one, or with
                  put_status=CODE it gets CODE (an UNKNOWN error body)
                  instead of the registry's answer (which stored the blob)
  no_mount=1      a POST .../blobs/uploads/?mount=&from= is forwarded without
                  mount and from: the registry opens an upload session (202)
                  as one without cross-repository mount does
  track_uploads=1 the proxy keeps the newest Location the registry gave for
                  each upload (by path) and forwards a request made on an
                  older URL of that upload to the newest: a registry whose
                  upload URL stays valid, as distribution-spec describes
                  (docker-registry 2.8 signs the offset into the URL's
                  _state and answers 404 BLOB_UPLOAD_INVALID to an old one)
  chunk_min=N     the answer to POST .../blobs/uploads/ carries
                  OCI-Chunk-Min-Length: N
  fail=DIGEST     GETs of that blob answer 500 (no delay)
  stall_ms=N      with cut_after: waits N ms after those bytes, then sends
                  the rest (cut_times times)

GET /_proxy/stats answers JSON: {"max_get": most blob GETs in flight at once,
"max_put": most upload PUT/PATCH in flight at once, "gets": blob GETs
forwarded, "ranges": blob GETs that carried a Range header, "body_bytes":
blob GET body bytes sent to clients, "cuts": connections cut, "patches": the
Content-Range of each upload PATCH as the client sent it, "up_bytes": upload
PATCH/PUT body bytes received from clients, "status": "STATUS RANGE" of each
GET on an upload URL as the client got it, "mounts": upload POSTs that asked
to mount} and resets it.
"""

import http.client
import http.server
import json
import socketserver
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
FAULTS = {}
STATS = {}
ACTIVE = {"get": 0, "put": 0}
NEWEST = {}  # track_uploads: upload path -> the query of its newest Location


def take_cut(at, length, low=0):
    """at, counted as one of the cut_times cuts, when low <= at < length and
    cuts are left; else None (no cut)."""
    with LOCK:
        if FAULTS.get("cuts_left", 0) > 0 and low <= at < length:
            FAULTS["cuts_left"] -= 1
            STATS["cuts"] += 1
            return at
    return None


def reset_stats():
    STATS.clear()
    STATS.update(max_get=0, max_put=0, gets=0, ranges=0, body_bytes=0, cuts=0,
                 patches=[], up_bytes=0, status=[], mounts=0)


reset_stats()

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer",
       "upgrade", "proxy-authorization", "proxy-authenticate"}


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = 0

    def log_message(self, fmt, *args):
        pass

    def control(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/_proxy/config":
            q = dict(urllib.parse.parse_qsl(u.query))
            with LOCK:
                FAULTS.clear()
                FAULTS.update(q)
                FAULTS["puts"] = 0
                if "cut_after" in q or "stall_ms" in q or "cut_upload" in q \
                        or "cut_upload_at" in q or "cut_put" in q:
                    FAULTS["cuts_left"] = int(q.get("cut_times", "1"))
            body = b"ok"
        else:
            with LOCK:
                body = json.dumps(STATS).encode()
                reset_stats()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self):
        if self.path.startswith("/_proxy/"):
            return self.control()
        method = self.command
        is_blob = "/blobs/" in self.path
        kind = None
        if is_blob and method == "GET":
            kind = "get"
        elif is_blob and method in ("PUT", "PATCH"):
            kind = "put"
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        with LOCK:
            faults = dict(FAULTS)
        digest = self.path.rsplit("/", 1)[-1].split("?")[0]
        is_upload = "/blobs/uploads/" in self.path
        if is_upload and method in ("PATCH", "PUT"):
            with LOCK:
                STATS["up_bytes"] += len(body or b"")
                if method == "PATCH":
                    STATS["patches"].append(self.headers.get("Content-Range") or "")
        path = self.path
        if method == "POST" and is_upload and "mount=" in path:
            with LOCK:
                STATS["mounts"] += 1
            if faults.get("no_mount"):
                upath, _, uquery = path.partition("?")
                q = [(k, v) for k, v in urllib.parse.parse_qsl(uquery) if k not in ("mount", "from")]
                path = upath + ("?" + urllib.parse.urlencode(q) if q else "")
        if is_upload and faults.get("track_uploads"):
            upath, _, uquery = path.partition("?")
            with LOCK:
                newest = NEWEST.get(upath)
            if newest is not None and newest != uquery:
                # the newest Location's parameters (_state) replace the old
                # ones; the client's own (digest=) stay
                q = dict(urllib.parse.parse_qsl(uquery, keep_blank_values=True))
                q.update(urllib.parse.parse_qsl(newest, keep_blank_values=True))
                path = upath + "?" + urllib.parse.urlencode(q)
        if kind == "get" and faults.get("fail") == digest:
            msg = b'{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        if kind == "get":
            with LOCK:
                STATS["gets"] += 1
                if any(k.lower() == "range" for k in headers):
                    STATS["ranges"] += 1
            asked_range = any(k.lower() == "range" for k in headers)
            if faults.get("ignore_range") or faults.get("bad_range"):
                headers = {k: v for k, v in headers.items() if k.lower() != "range"}
        cut_up = None
        if method == "PATCH" and faults.get("cut_upload_at") and body:
            start = int((self.headers.get("Content-Range") or "0-0").split("-")[0])
            cut_up = take_cut(int(faults["cut_upload_at"]) - start, len(body), low=1)
        elif method == "PATCH" and faults.get("cut_upload") and body:
            cut_up = take_cut(int(faults["cut_upload"]), len(body))
        lose = False
        if method == "PUT" and is_upload:
            with LOCK:
                FAULTS["puts"] = FAULTS.get("puts", 0) + 1
                lose = str(FAULTS["puts"]) == faults.get("lose_put")
        cut_put = None
        if method == "PUT" and is_upload and faults.get("cut_put") is not None and body:
            cut_put = take_cut(int(faults["cut_put"]), len(body))
        if cut_put is not None:
            # the first bytes reach the registry's session as a PATCH
            if cut_put:
                upath, _, uquery = path.partition("?")
                q = [(k, v) for k, v in urllib.parse.parse_qsl(uquery, keep_blank_values=True)
                     if k != "digest"]
                ppath = upath + ("?" + urllib.parse.urlencode(q) if q else "")
                h = {k: v for k, v in headers.items()
                     if k.lower() not in ("content-range", "content-length")}
                h["Content-Range"] = "0-%d" % (cut_put - 1)
                h["Content-Length"] = str(cut_put)
                conn = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=60)
                conn.request("PATCH", ppath, body=body[:cut_put], headers=h)
                resp = conn.getresponse()
                resp.read()
                conn.close()
                loc = resp.getheader("Location") or ""
                if "/blobs/uploads/" in loc:
                    lu = urllib.parse.urlsplit(loc)
                    with LOCK:
                        NEWEST[lu.path] = lu.query
            self.close_connection = True
            return
        if cut_up is not None:
            start = int((self.headers.get("Content-Range") or "0-0").split("-")[0])
            body = body[:cut_up]
            headers = {k: v for k, v in headers.items()
                       if k.lower() not in ("content-range", "content-length")}
            headers["Content-Range"] = "%d-%d" % (start, start + cut_up - 1)
            headers["Content-Length"] = str(cut_up)
        if kind:
            with LOCK:
                ACTIVE[kind] += 1
                key = "max_" + kind
                STATS[key] = max(STATS[key], ACTIVE[kind])
        try:
            if kind and faults.get("delay_ms"):
                time.sleep(int(faults["delay_ms"]) / 1000.0)
            conn = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=60)
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read() if method != "HEAD" else b""
            conn.close()
            loc = resp.getheader("Location") or ""
            if is_upload and "/blobs/uploads/" in loc:
                lu = urllib.parse.urlsplit(loc)
                with LOCK:
                    NEWEST[lu.path] = lu.query
            if is_upload and method == "GET":
                with LOCK:
                    STATS["status"].append("%d %s" % (resp.status, resp.getheader("Range") or ""))
        finally:
            if kind:
                with LOCK:
                    ACTIVE[kind] -= 1
        if cut_up is not None:
            self.close_connection = True
            return
        if lose and faults.get("put_status"):
            msg = b'{"errors":[{"code":"UNKNOWN","message":"injected failure after the commit"}]}'
            self.send_response(int(faults["put_status"]))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        if lose:
            self.close_connection = True
            return
        status, reason = resp.status, resp.reason
        bad = kind == "get" and faults.get("bad_range") and asked_range and status == 200
        if bad:
            status, reason = 206, "Partial Content"
        self.send_response_only(status, reason)
        if bad:
            self.send_header("Content-Range", "bytes 0-%d/%d" % (len(data) - 1, len(data)))
        length = None
        for k, v in resp.getheaders():
            if k.lower() in HOP or (bad and k.lower() == "content-range"):
                continue
            if k.lower() == "content-length":
                length = v
                if method != "HEAD":
                    continue
            self.send_header(k, v)
        if method == "POST" and "/blobs/uploads/" in self.path and faults.get("chunk_min"):
            self.send_header("OCI-Chunk-Min-Length", faults["chunk_min"])
        if method != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        elif length is None:
            self.send_header("Content-Length", "0")
        self.end_headers()
        if method == "HEAD":
            return
        cut = None
        if kind == "get" and resp.status in (200, 206):
            cut = take_cut(int(faults.get("cut_after", 0)), len(data))
        if cut is not None and cut < len(data):
            self.wfile.write(data[:cut])
            self.wfile.flush()
            if faults.get("stall_ms"):
                time.sleep(int(faults["stall_ms"]) / 1000.0)
                self.wfile.write(data[cut:])
                sent = len(data)
            else:
                sent = cut
                self.close_connection = True
        else:
            self.wfile.write(data)
            sent = len(data)
        if kind == "get":
            with LOCK:
                STATS["body_bytes"] += sent

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    Proxy.upstream = int(sys.argv[1])
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    httpd = Server(("127.0.0.1", port), Proxy)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
