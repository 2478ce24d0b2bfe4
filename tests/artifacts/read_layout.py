#!/usr/bin/env python3
"""An independent reader of an image layout's artifacts (Python's json and
hashlib; none of ocispec's code), the oracle of spec/artifacts_spec.lua.

    read_layout.py DIR
        Prints JSON {"index": index.json decoded, "documents": {digest:
        decoded manifest or index, for every index.json entry whose
        mediaType is an OCI manifest or index}, "blobs": {digest: size, for
        every blob those documents name, each checked with hashlib}}.
        Exits 1 naming the blob whose bytes do not match their digest.
"""
import hashlib
import json
import os
import sys

DOCS = ("application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json")


def blob(root, digest):
    alg, enc = digest.split(":", 1)
    with open(os.path.join(root, "blobs", alg, enc), "rb") as f:
        data = f.read()
    if alg != "sha256" or hashlib.sha256(data).hexdigest() != enc:
        sys.stderr.write("read_layout.py: blob %s does not match\n" % digest)
        sys.exit(1)
    return data


def main():
    root = sys.argv[1]
    with open(os.path.join(root, "index.json"), "rb") as f:
        index = json.load(f)
    docs, blobs = {}, {}
    for e in index["manifests"]:
        if e["mediaType"] not in DOCS:
            continue
        doc = json.loads(blob(root, e["digest"]))
        docs[e["digest"]] = doc
        for b in [doc.get("config")] + doc.get("layers", []):
            if b:
                blobs[b["digest"]] = len(blob(root, b["digest"]))
    print(json.dumps({"index": index, "documents": docs, "blobs": blobs}, sort_keys=True))


if __name__ == "__main__":
    main()
