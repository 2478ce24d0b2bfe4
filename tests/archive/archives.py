#!/usr/bin/env python3
"""Archives for spec/transport_spec.lua, written and read with the standard
library only (tarfile, json, hashlib): an oracle independent of ocispec.

  archives.py hostile KIND OUT.tar      an oci-archive with one planted fault
  archives.py docker-legacy OUT.tar     a docker save (pre-25) archive, two images
  archives.py docker-bad-diffid OUT.tar  the same, a layer not its diff_id
  archives.py docker-oci OUT.tar        a docker 25+ archive (OCI layout inside)
  archives.py docker-dup N OUT.tar      one image whose Layers name one layer N
                                        times (N-1 of them through a link), its
                                        config listing the diff_id N times
  archives.py docker-bigmanifest OUT.tar  a manifest.json of 4 MiB + 1 byte
  archives.py read-docker FILE.tar      JSON summary of a docker-archive
  archives.py read-oci FILE.tar         JSON summary of an oci-archive
"""
import hashlib
import io
import json
import sys
import tarfile


def add(tf, name, data, **kw):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    for k, v in kw.items():
        setattr(ti, k, v)
    tf.addfile(ti, io.BytesIO(data))


def link(tf, name, target, kind=tarfile.SYMTYPE):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = target
    tf.addfile(ti)


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def layer_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files:
            add(tf, name, data, mode=0o644)
    return buf.getvalue()


def image(files, cmd):
    layer = layer_tar(files)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": [sha(layer)]},
    }, sort_keys=True).encode()
    return layer, config


def minimal_layout(tf, extra=None):
    blob = b"hello"
    manifest = json.dumps({"schemaVersion": 2}).encode()
    add(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add(tf, "blobs/sha256/" + sha(blob)[7:], blob)
    index = {"schemaVersion": 2, "manifests": []}
    add(tf, "index.json", json.dumps(index).encode())


def hostile(kind, out):
    with tarfile.open(out, "w") as tf:
        minimal_layout(tf)
        if kind == "traversal":
            add(tf, "../escaped", b"x")
        elif kind == "absolute":
            add(tf, "/tmp/ocispec-escaped", b"x")
        elif kind == "symlink":
            link(tf, "blobs/sha256/evil", "/etc/passwd")
        elif kind == "hardlink":
            link(tf, "blobs/sha256/evil", "oci-layout", tarfile.LNKTYPE)
        elif kind == "duplicate":
            add(tf, "index.json", b'{"schemaVersion":2,"manifests":[]}')
        elif kind == "device":
            ti = tarfile.TarInfo("dev")
            ti.type = tarfile.CHRTYPE
            ti.devmajor, ti.devminor = 1, 3
            tf.addfile(ti)
        elif kind == "whiteout":
            add(tf, "blobs/.wh.sha256", b"")
        elif kind == "big":
            add(tf, "blobs/sha256/" + "0" * 64, b"\0" * (1 << 20))
        else:
            raise SystemExit("unknown kind " + kind)


def docker_legacy(out, bad=False):
    """Two images; bad: the first config's diff_id is not its layer's."""
    with tarfile.open(out, "w") as tf:
        entries = []
        for name, tag, files, cmd in (("busybox", "1", [("a", b"A\n")], ["/a"]),
                                     ("example.com/x/y", "2", [("b", b"B\n")], ["/b"])):
            layer, config = image(files, cmd)
            if bad:
                layer, bad = layer + b"\0" * 512, False
            cid = hashlib.sha256(config).hexdigest()
            lid = hashlib.sha256(layer + b"id").hexdigest()
            add(tf, cid + ".json", config)
            add(tf, lid + "/layer.tar", layer)
            add(tf, lid + "/VERSION", b"1.0")
            add(tf, lid + "/json", json.dumps({"id": lid}).encode())
            entries.append({"Config": cid + ".json", "RepoTags": [name + ":" + tag],
                            "Layers": [lid + "/layer.tar"]})
        add(tf, "manifest.json", json.dumps(entries).encode())
        add(tf, "repositories", b"{}")


def docker_oci(out):
    """docker 25+: blobs/sha256 with an OCI layout, manifest.json pointing
    into it, the layer a symbolic link as skopeo's <id>/layer.tar is."""
    layer, config = image([("c", b"C\n")], ["/c"])
    with tarfile.open(out, "w") as tf:
        add(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add(tf, "blobs/sha256/" + sha(config)[7:], config)
        add(tf, "blobs/sha256/" + sha(layer)[7:], layer)
        link(tf, "deadbeef/layer.tar", "../blobs/sha256/" + sha(layer)[7:])
        add(tf, "index.json", b'{"schemaVersion":2,"manifests":[]}')
        add(tf, "manifest.json", json.dumps([{
            "Config": "blobs/sha256/" + sha(config)[7:], "RepoTags": ["c:latest"],
            "Layers": ["deadbeef/layer.tar"]}]).encode())


def docker_dup(n, out):
    """Layers names the same member n times, every other time through a
    symbolic link to it: each must be hashed and copied once."""
    layer, _ = image([("d", b"D\n" * 1000)], ["/d"])
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha(layer)] * n}}).encode()
    with tarfile.open(out, "w") as tf:
        add(tf, "l/layer.tar", layer)
        link(tf, "alias.tar", "l/layer.tar")
        add(tf, sha(config)[7:] + ".json", config)
        add(tf, "manifest.json", json.dumps([{
            "Config": sha(config)[7:] + ".json", "RepoTags": ["dup:1"],
            "Layers": ["l/layer.tar" if i % 2 else "alias.tar" for i in range(n)]}]).encode())


def read_docker(path):
    with tarfile.open(path) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        out = []
        for e in manifest:
            config = tf.extractfile(e["Config"]).read()
            cfg = json.loads(config)
            layers = [sha(tf.extractfile(l).read()) for l in e["Layers"]]
            out.append({"RepoTags": e.get("RepoTags"), "config": sha(config),
                        "layers": layers, "diff_ids": cfg["rootfs"]["diff_ids"]})
        names = tf.getnames()
        reps = json.load(tf.extractfile("repositories")) if "repositories" in names else None
        print(json.dumps({"images": out, "repositories": reps}))


def read_oci(path):
    with tarfile.open(path) as tf:
        members = {m.name: m for m in tf.getmembers()}
        index = json.load(tf.extractfile("index.json"))
        bad = []
        for name, m in members.items():
            if name.startswith("blobs/sha256/") and m.isfile():
                if sha(tf.extractfile(m).read())[7:] != name.rsplit("/", 1)[1]:
                    bad.append(name)
        print(json.dumps({"index": index, "layout": json.load(tf.extractfile("oci-layout")),
                          "bad": bad, "members": sorted(members)}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "hostile":
        hostile(sys.argv[2], sys.argv[3])
    elif cmd == "docker-legacy":
        docker_legacy(sys.argv[2])
    elif cmd == "docker-bad-diffid":
        docker_legacy(sys.argv[2], bad=True)
    elif cmd == "docker-oci":
        docker_oci(sys.argv[2])
    elif cmd == "docker-dup":
        docker_dup(int(sys.argv[2]), sys.argv[3])
    elif cmd == "docker-bigmanifest":
        with tarfile.open(sys.argv[2], "w") as tf:
            add(tf, "manifest.json", b'[{"Config":"' + b"a" * ((4 << 20) - 14) + b'"}]')
    elif cmd == "read-docker":
        read_docker(sys.argv[2])
    elif cmd == "read-oci":
        read_oci(sys.argv[2])
    else:
        raise SystemExit(__doc__)
