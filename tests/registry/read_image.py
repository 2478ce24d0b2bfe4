#!/usr/bin/env python3
"""An independent reader of what a registry holds (Python's urllib, json
and hashlib; none of ocispec's code), the oracle of the registry specs.

    read_image.py manifest BASE REPO REF
        GET BASE/v2/REPO/manifests/REF (Accept: OCI and Docker v2
        manifests and indexes) and print JSON {"status", "content_type",
        "digest" (sha256 of the body), "size", "body" (the decoded JSON
        document, or null when it is not JSON)}. A 404 prints status 404.

    read_image.py walk BASE REPO REF
        Walk the image REF names: the document, each child of an index
        (recursively), each manifest's config and layers. Every document is
        fetched by digest and every blob downloaded, and each is checked
        with hashlib against the digest and size its parent gives. Prints
        JSON {"top": digest, "documents": {digest: mediaType},
        "blobs": {digest: size}}. Exits 1 with the reason on any
        mismatch or error.

    read_image.py referrers BASE REPO DIGEST
        GET BASE/v2/REPO/referrers/DIGEST (distribution-spec 1.1) and print
        JSON {"status", "content_type", "body" (decoded JSON or null)}: a
        registry without the referrers API answers 404.

BASE is "http://127.0.0.1:PORT". Plain HTTP, no auth: the test registries.
"""
import hashlib
import json
import sys
import urllib.error
import urllib.request

ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def get(url, accept=None):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def manifest(base, repo, ref):
    status, ctype, body = get("%s/v2/%s/manifests/%s" % (base, repo, ref), ACCEPT)
    try:
        doc = json.loads(body) if status == 200 else None
    except ValueError:
        doc = None
    return {"status": status, "content_type": ctype, "digest": sha256(body),
            "size": len(body), "body": doc}


def referrers(base, repo, digest):
    status, ctype, body = get("%s/v2/%s/referrers/%s" % (base, repo, digest),
                              INDEX_TYPES[0])
    try:
        doc = json.loads(body) if status == 200 else None
    except ValueError:
        doc = None
    return {"status": status, "content_type": ctype, "body": doc}


def fail(msg):
    sys.stderr.write("read_image.py: " + msg + "\n")
    sys.exit(1)


def walk(base, repo, ref):
    top = manifest(base, repo, ref)
    if top["status"] != 200:
        fail("%s/%s:%s: status %d" % (base, repo, ref, top["status"]))
    documents, blobs = {}, {}

    def visit(doc, digest, media_type):
        if digest in documents:
            return
        documents[digest] = media_type
        if media_type in INDEX_TYPES:
            for child in doc.get("manifests", []):
                got = manifest(base, repo, child["digest"])
                if got["status"] != 200:
                    fail("%s: status %d" % (child["digest"], got["status"]))
                if got["digest"] != child["digest"] or got["size"] != child["size"]:
                    fail("%s: the registry's bytes have digest %s, size %d (descriptor: %d)"
                         % (child["digest"], got["digest"], got["size"], child["size"]))
                visit(got["body"], child["digest"], child["mediaType"])
            return
        for b in [doc["config"]] + doc.get("layers", []):
            if b["digest"] in blobs:
                continue
            status, _, body = get("%s/v2/%s/blobs/%s" % (base, repo, b["digest"]))
            if status != 200:
                fail("blob %s: status %d" % (b["digest"], status))
            if sha256(body) != b["digest"] or len(body) != b["size"]:
                fail("blob %s: the registry's bytes have digest %s, size %d (descriptor: %d)"
                     % (b["digest"], sha256(body), len(body), b["size"]))
            blobs[b["digest"]] = b["size"]

    mt = top["body"].get("mediaType") or top["content_type"]
    visit(top["body"], top["digest"], mt)
    return {"top": top["digest"], "documents": documents, "blobs": blobs}


def main():
    what = {"manifest": manifest, "walk": walk, "referrers": referrers}
    if len(sys.argv) != 5 or sys.argv[1] not in what:
        fail("usage: read_image.py manifest|walk|referrers BASE REPO REF")
    out = what[sys.argv[1]](*sys.argv[2:])
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
