"""Random layer sequences for the differential test against umoci.

Independent of ocispec: python's tarfile, gzip, hashlib and json only.

generate(seed) returns an image: a list of layers, each a dict with
`entries` (in archive order) and `gzip`, `format`, `prefix`. Entries are
dicts: kind in dir/file/symlink/hardlink/fifo/whiteout/opaque, `path` (relative,
no leading "./", no trailing "/"), `mode`, `data`, `link`, `mtime`.

A model of the tree (types and file modes, with the whiteout rules of
image-spec layer.md: a whiteout spares what the same layer wrote) keeps the
layers legal and non-hostile: no entry path, whiteout or hard-link target
goes through a symbolic link or a non-directory, and hard links name an
existing non-directory (a few dangling ones are kept on purpose with
`--dangling`: both tools must then refuse the image). Everything else is
random over a small path alphabet so that paths collide often: files
replaced by directories and back, non-empty directories replaced by files
or symbolic links, symbolic links replaced by directories, opaque markers
right after their directory entry (as Docker and BuildKit write them), at
the end of the layer or without the directory entry, whiteouts before or
after their siblings.
"""

import gzip
import hashlib
import io
import json
import os
import random
import tarfile

NAMES = ["a", "b", "c"]
# now and then: a name past ustar's 100 bytes (GNU long names, PAX path
# records) and a non-ASCII one (UTF-8 bytes; PAX's UTF-8 path)
RARE_NAMES = ["long-" + "x" * 120, "caf\u00e9"]
MAX_DEPTH = 3

FILE_MODES = [0o644] * 5 + [0o755] * 2 + [0o600, 0o444, 0o640, 0o700, 0o4755,
                                           0o2755, 0o6755, 0o1644]
DIR_MODES = [0o755] * 5 + [0o700, 0o750, 0o775, 0o1777, 0o2755, 0o711]

WH = ".wh."
OPQ = ".wh..wh..opq"


def parent(p):
    return p.rsplit("/", 1)[0] if "/" in p else ""


def ancestors(p):
    """Proper ancestors of p, top first ("" = the root is left out)."""
    parts = p.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def under(p, q):
    """p is q or below q."""
    return p == q or p.startswith(q + "/")


class Model:
    """The tree after each entry: path -> (kind, mode); kinds d, f, l."""

    def __init__(self):
        self.nodes = {}
        self.upper = set()  # this layer's paths and their ancestors

    def new_layer(self):
        self.upper = set()

    def ancestors_ok(self, p):
        """Every existing ancestor is a directory (no link or file on the way)."""
        return all(self.nodes.get(a, ("d",))[0] == "d" for a in ancestors(p))

    def remove_tree(self, p, spare_upper=False, keep_top=False):
        for q in [q for q in self.nodes if under(q, p)]:
            if keep_top and q == p:
                continue
            if spare_upper and self._spared(q, p, keep_top):
                continue
            del self.nodes[q]

    def _spared(self, q, top, keep_top):
        # umoci-like walk, which is what layer.md's "only lower" means: a
        # path is removed (with its subtree) at the first ancestor-or-self
        # from `top` down that this layer did not write.
        chain = [q] + [a for a in ancestors(q) if under(a, top)]
        for a in sorted(chain, key=len):
            if keep_top and a == top:
                continue
            if a not in self.upper:
                return False
        return True

    def touch(self, p):
        self.upper.add(p)
        self.upper.update(ancestors(p))

    def apply(self, e):
        """Applies entry e; False when it would not be legal (dropped)."""
        k, p = e["kind"], e["path"]
        if k in ("whiteout", "opaque"):
            d = p if k == "opaque" else parent(p)
            if d and not (self.ancestors_ok(d + "/x") and
                          self.nodes.get(d, ("d",))[0] == "d"):
                return False
            if k == "opaque" and d:
                self.remove_tree(d, spare_upper=True, keep_top=True)
            elif k == "opaque":
                self._opaque_root()
            else:
                self.remove_tree(p, spare_upper=True)
            return True
        if not self.ancestors_ok(p):
            return False
        if k == "hardlink":
            t = e["link"]
            tn = self.nodes.get(t)
            if not e.get("dangling"):
                if tn is None or tn[0] == "d" or not self.ancestors_ok(t) or \
                        under(t, p):
                    return False
                e["mode"] = tn[1]
        for a in ancestors(p):
            self.nodes.setdefault(a, ("d", 0o755))
        cur = self.nodes.get(p)
        if k == "dir":
            if cur is None or cur[0] != "d":
                self.remove_tree(p)
            self.nodes[p] = ("d", e["mode"])
        else:
            self.remove_tree(p)
            if k == "symlink":
                self.nodes[p] = ("l", 0o777)
            elif k == "fifo":
                self.nodes[p] = ("p", e["mode"])
            elif k == "hardlink":
                tn = self.nodes.get(e["link"])
                self.nodes[p] = tn if tn else ("f", e["mode"])
            else:
                self.nodes[p] = ("f", e["mode"])
        self.touch(p)
        return True

    def _opaque_root(self):
        for q in list(self.nodes):
            if not self._spared(q, "", True):
                del self.nodes[q]


def random_path(rng, model):
    existing = list(model.nodes)
    if existing and rng.random() < 0.6:
        p = rng.choice(sorted(existing))
        # sometimes a child of an existing directory
        if model.nodes[p][0] == "d" and p.count("/") < MAX_DEPTH - 1 and \
                rng.random() < 0.4:
            p = p + "/" + rng.choice(NAMES)
        return p
    depth = rng.randint(1, MAX_DEPTH)
    return "/".join(rng.choice(RARE_NAMES) if rng.random() < 0.02
                    else rng.choice(NAMES) for _ in range(depth))


def symlink_target(rng, p, model):
    r = rng.random()
    existing = sorted(model.nodes)
    if r < 0.35 and existing:
        t = rng.choice(existing)  # relative, from p's directory
        ups = p.count("/")
        return "../" * ups + t if ups else t
    if r < 0.6 and existing:
        return "/" + rng.choice(existing)  # absolute (inside the image)
    if r < 0.75:
        return rng.choice(["nonexistent", "../nowhere", "/missing/file"])
    if r < 0.85:
        return rng.choice([".", "..", "./" + rng.choice(NAMES)])
    return "/".join(rng.choice(NAMES) for _ in range(rng.randint(1, 2)))


def gen_layer(rng, model, dangling):
    model.new_layer()
    start_nodes = dict(model.nodes)
    ops = []  # proposed entries, in order
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        p = random_path(rng, model)
        if r < 0.22:
            kind = "dir"
        elif r < 0.50:
            kind = "file"
        elif r < 0.60:
            kind = "symlink"
        elif r < 0.62:
            kind = "fifo"
        elif r < 0.72:
            kind = "hardlink"
        elif r < 0.90:
            kind = "whiteout"
        else:
            kind = "opaque"
        # parent directory entries, as tar writes them (not always)
        for a in ancestors(p):
            n = model.nodes.get(a)
            if n is None and rng.random() < 0.85 or \
                    n is not None and n[0] != "d" or \
                    n is not None and rng.random() < 0.25:
                ops.append({"kind": "dir", "path": a,
                            "mode": rng.choice(DIR_MODES)})
        e = {"kind": kind, "path": p}
        if kind == "dir":
            e["mode"] = rng.choice(DIR_MODES)
        elif kind == "file":
            e["mode"] = rng.choice(FILE_MODES)
            e["data"] = bytes(rng.getrandbits(8)
                              for _ in range(rng.choice([0, 1, 5, 17, 64])))
        elif kind == "fifo":
            e["mode"] = rng.choice([0o644, 0o600, 0o666])
        elif kind == "symlink":
            e["link"] = symlink_target(rng, p, model)
        elif kind == "hardlink":
            files = sorted(q for q, n in model.nodes.items()
                           if n[0] != "d" and not under(q, p))
            if dangling and rng.random() < 0.01:
                e["link"] = "/".join(rng.choice(NAMES) + "x"
                                     for _ in range(rng.randint(1, 2)))
                e["dangling"] = True
                e["mode"] = 0o644
            elif files:
                e["link"] = rng.choice(files)
            else:
                continue
        elif kind == "opaque":
            dirs = sorted(q for q, n in model.nodes.items() if n[0] == "d")
            e["path"] = rng.choice(dirs) if dirs and rng.random() < 0.9 else ""
            if e["path"] and rng.random() < 0.6:
                ops.append({"kind": "dir", "path": e["path"],
                            "mode": rng.choice(DIR_MODES)})
        ops.append(e)
        # keep the model current so that later picks see this layer; drop
        # what is not legal at its place
        model.nodes, model.upper = dict(start_nodes), set()
        ops = [o for o in ops if model.apply(o)]
    # other legal orders: move some whiteouts and opaque markers to the end
    # or the start of the layer, then keep only what stays legal in the
    # final order (the model is re-run over it)
    order = list(ops)
    for o in ops:
        if o["kind"] in ("whiteout", "opaque") and rng.random() < 0.3:
            order.remove(o)
            if rng.random() < 0.5:
                order.append(o)
            else:
                order.insert(0, o)
    model.nodes, model.upper = dict(start_nodes), set()
    entries = []
    for o in order:
        o = dict(o)
        if model.apply(o):
            o["mtime"] = rng.randint(1_000_000_000, 1_700_000_000)
            entries.append(o)
    return {
        "entries": entries,
        "gzip": rng.random() < 0.5,
        "format": rng.choice(["gnu", "pax", "ustar"]),
        "prefix": rng.choice(["", "", "./", "/"]),
        "root": rng.random() < 0.3,
    }


def generate(seed, dangling=True):
    rng = random.Random(seed)
    model = Model()
    return [gen_layer(rng, model, dangling) for _ in range(rng.randint(1, 6))]


# ---------------------------------------------------------------- writing

FORMATS = {"gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT,
           "ustar": tarfile.USTAR_FORMAT}


def entry_name(layer, e):
    if e["kind"] == "whiteout":
        name = (parent(e["path"]) + "/" if parent(e["path"]) else "") + \
            WH + e["path"].rsplit("/", 1)[-1]
    elif e["kind"] == "opaque":
        name = (e["path"] + "/" if e["path"] else "") + OPQ
    else:
        name = e["path"]
    return layer["prefix"] + name


def layer_tar(layer):
    """The uncompressed tar bytes of a layer."""
    buf = io.BytesIO()
    fmt = layer["format"]
    if fmt == "ustar" and any(len(entry_name(layer, e).encode()) > 100 or
                              len(e.get("link", "").encode()) + 2 > 100
                              for e in layer["entries"]):
        fmt = "pax"  # ustar cannot hold the name
    with tarfile.open(fileobj=buf, mode="w", format=FORMATS[fmt],
                      encoding="utf-8") as t:
        if layer["root"]:
            ti = tarfile.TarInfo("./")
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1_600_000_000
            t.addfile(ti)
        for e in layer["entries"]:
            ti = tarfile.TarInfo(entry_name(layer, e))
            ti.mtime = e.get("mtime", 1_600_000_000)
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            data = None
            k = e["kind"]
            if k == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, e["mode"]
                if not ti.name.endswith("/"):
                    ti.name += "/"
            elif k in ("file", "whiteout", "opaque"):
                ti.type, ti.mode = tarfile.REGTYPE, e.get("mode", 0o644)
                data = e.get("data", b"")
                ti.size = len(data)
            elif k == "symlink":
                ti.type, ti.mode, ti.linkname = tarfile.SYMTYPE, 0o777, e["link"]
            elif k == "fifo":
                ti.type, ti.mode = tarfile.FIFOTYPE, e["mode"]
            elif k == "hardlink":
                ti.type, ti.mode = tarfile.LNKTYPE, e.get("mode", 0o644)
                ti.linkname = layer["prefix"] + e["link"]
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def write_layout(image, out, tag="latest"):
    """Writes `image` as an OCI image layout in folder `out`."""
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)

    def blob(b):
        d = sha256(b)
        with open(os.path.join(out, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(b)
        return d

    layers, diff_ids = [], []
    for layer in image:
        raw = layer_tar(layer)
        diff_ids.append(sha256(raw))
        if layer["gzip"]:
            b = gzip.compress(raw, mtime=0)
            mt = "application/vnd.oci.image.layer.v1.tar+gzip"
        else:
            b, mt = raw, "application/vnd.oci.image.layer.v1.tar"
        layers.append({"mediaType": mt, "digest": blob(b), "size": len(b)})
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(config), "size": len(config)},
        "layers": layers,
    }, sort_keys=True).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": blob(manifest), "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    }
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, sort_keys=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def dump(image):
    """The image as JSON text (file contents in hex): replayable with
    load() whatever later versions of the generator draw for a seed."""
    def enc(e):
        return dict(e, data=e["data"].hex()) if "data" in e else e
    return json.dumps([dict(la, entries=[enc(e) for e in la["entries"]])
                       for la in image], indent=1, sort_keys=True)


def load(text):
    def dec(e):
        return dict(e, data=bytes.fromhex(e["data"])) if "data" in e else e
    return [dict(la, entries=[dec(e) for e in la["entries"]])
            for la in json.loads(text)]


def describe(image):
    """A readable listing of the layers, one entry a line."""
    lines = []
    for i, layer in enumerate(image, 1):
        lines.append("layer %d (%s%s):" % (i, layer["format"],
                                           ", gzip" if layer["gzip"] else ""))
        if layer["root"]:
            lines.append("  ./  dir 0755")
        for e in layer["entries"]:
            name = entry_name(layer, e)
            k = e["kind"]
            if k == "dir":
                lines.append("  %s/  dir %04o" % (name, e["mode"]))
            elif k == "file":
                lines.append("  %s  file %04o %d bytes" % (name, e["mode"],
                                                           len(e["data"])))
            elif k == "symlink":
                lines.append("  %s -> %s  symlink" % (name, e["link"]))
            elif k == "fifo":
                lines.append("  %s  fifo %04o" % (name, e["mode"]))
            elif k == "hardlink":
                lines.append("  %s => %s  hardlink%s" % (
                    name, layer["prefix"] + e["link"],
                    " (dangling)" if e.get("dangling") else ""))
            else:
                lines.append("  %s" % name)
    return "\n".join(lines)
