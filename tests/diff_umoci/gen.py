"""Random layer sequences for the differential test against umoci.

Independent of ocispec: python's tarfile, gzip, hashlib and json only.

generate(seed) returns an image: a list of layers, each a dict with
`entries` (in archive order) and `gzip`, `format`, `prefix`. Entries are
dicts: kind in dir/file/symlink/hardlink/fifo/whiteout/opaque, `path` (relative,
no leading "./", no trailing "/"), `mode`, `data`, `link`, `mtime`, `xattrs`
(name -> value, written as PAX SCHILY.xattr records in pax layers).

A model of the tree (types, file modes and link targets, with the
whiteout rules of image-spec layer.md: a whiteout spares what the same
layer wrote) keeps the layers legal: entry paths, whiteouts, opaque
markers and hard-link targets may go through symbolic links (relative,
absolute, with ".." that stops at the root, chains of links), which the
model resolves inside the root as umoci (securejoin) does, the last
component never followed; an entry whose resolved parent is not a
directory, or whose resolution loops (more than 40 links), is dropped.
Hard links name an existing non-directory (a few dangling ones are kept
on purpose with `--dangling`: both tools must then refuse the image). Everything else is
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
MAX_LINKS = 40  # ocispec's limit (umoci's is 255): a longer chain is dropped

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


def join(d, name):
    return d + "/" + name if d else name


def base(p):
    return p.rsplit("/", 1)[-1]


class Model:
    """The tree after each entry: path -> (kind, mode[, link target]);
    kinds d, f, l, p. Paths are resolved ones: no link among their
    ancestors."""

    def __init__(self):
        self.nodes = {}
        self.upper = set()  # this layer's paths and their ancestors

    def resolve(self, p):
        """p with every symbolic link followed inside the root (the last
        component too), as securejoin does; None: more than MAX_LINKS."""
        todo = [c for c in p.split("/")]
        cur = []
        links = 0
        while todo:
            c = todo.pop(0)
            if c in ("", "."):
                continue
            if c == "..":
                if cur:
                    cur.pop()
                continue
            n = self.nodes.get("/".join(cur + [c]))
            if n is not None and n[0] == "l":
                links += 1
                if links > MAX_LINKS:
                    return None
                t = n[2]
                if t.startswith("/"):
                    cur = []
                todo = t.split("/") + todo
                continue
            cur.append(c)
        return "/".join(cur)

    def resolve_parent(self, p):
        """p's parent resolved, p's last name kept; None: a loop."""
        d = self.resolve(parent(p))
        return None if d is None else join(d, base(p))

    def alias(self, rng, q):
        """Sometimes q's name through a symbolic link to one of its
        ancestors (or through a chain of them)."""
        if rng.random() >= 0.5:
            return q
        ways = []
        for lp, n in sorted(self.nodes.items()):
            if n[0] != "l":
                continue
            t = self.resolve(lp)
            if t is not None and t != q and (t == "" or q.startswith(t + "/")):
                ways.append(join(lp, q[len(t) + 1 if t else 0:]))
        return rng.choice(ways) if ways else q

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
            d = self.resolve(p if k == "opaque" else parent(p))
            if d is None:
                return False
            p = join(d, base(p)) if k == "whiteout" else d
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
        p = self.resolve_parent(p)
        if p is None or not p or not self.ancestors_ok(p):
            return False
        if k == "hardlink":
            t = self.resolve_parent(e["link"])
            if t is None:
                return False
            tn = self.nodes.get(t)
            # the tools resolve the target after p is gone: p must not be
            # on its way
            saved = dict(self.nodes)
            self.remove_tree(p)
            moved = self.resolve_parent(e["link"]) != t
            self.nodes = saved
            if moved:
                return False
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
                self.nodes[p] = ("l", 0o777, e["link"])
            elif k == "fifo":
                self.nodes[p] = ("p", e["mode"])
            elif k == "hardlink":
                tn = self.nodes.get(self.resolve_parent(e["link"]))
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
    links = sorted(q for q, n in model.nodes.items() if n[0] == "l")
    if links and rng.random() < 0.2:  # below a link, whatever it names
        return rng.choice(links) + "/" + rng.choice(NAMES)
    if existing and rng.random() < 0.6:
        p = rng.choice(sorted(existing))
        # sometimes a child of an existing directory, or of a link
        if model.nodes[p][0] in "dl" and p.count("/") < MAX_DEPTH - 1 and \
                rng.random() < 0.4:
            p = p + "/" + rng.choice(NAMES)
        return model.alias(rng, p)
    depth = rng.randint(1, MAX_DEPTH)
    return "/".join(rng.choice(RARE_NAMES) if rng.random() < 0.02
                    else rng.choice(NAMES) for _ in range(depth))


def symlink_target(rng, p, model):
    r = rng.random()
    existing = sorted(model.nodes)
    dirs = sorted(q for q, n in model.nodes.items() if n[0] == "d")
    if dirs and rng.random() < 0.35:
        # at a directory, so that later entries go through the link:
        # relative, absolute, ".." past the root, or at another link
        t = rng.choice(dirs + [q for q in existing
                               if model.nodes[q][0] == "l"])
        ups = p.count("/")
        return rng.choice(["../" * ups + t, "/" + t,
                           "../" * (ups + rng.randint(1, 3)) + t,
                           "/" + rng.choice(NAMES) + "/../" + t])
    if r < 0.35 and existing:
        t = rng.choice(existing)  # relative, from p's directory
        ups = p.count("/")
        return "../" * ups + t if ups else t
    if r < 0.6 and existing:
        return "/" + rng.choice(existing)  # absolute (inside the image)
    if r < 0.75:
        return rng.choice(["nonexistent", "../nowhere", "/missing/file"])
    if r < 0.8:
        return rng.choice([".", "..", "./" + rng.choice(NAMES)])
    if r < 0.9 and existing:
        # ".." past the root (it stops there), absolute ones with ".."
        t = rng.choice(existing)
        return rng.choice(["../" * rng.randint(1, 4) + t,
                           "/" + rng.choice(NAMES) + "/../" + t,
                           "/../../" + t])
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
            # (a link on the way is mostly kept: the entry goes through it)
            if n is None and rng.random() < 0.85 or \
                    n is not None and n[0] not in "dl" or \
                    n is not None and n[0] == "l" and rng.random() < 0.1 or \
                    n is not None and n[0] == "d" and rng.random() < 0.25:
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
                e["link"] = model.alias(rng, rng.choice(files))
            else:
                continue
        elif kind == "opaque":
            dirs = sorted(q for q, n in model.nodes.items() if n[0] == "d")
            e["path"] = model.alias(rng, rng.choice(dirs)) \
                if dirs and rng.random() < 0.9 else ""
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
        "root_mode": rng.choice(DIR_MODES),
    }


XATTR_NAMES = ["user.a", "user.b", "trusted.t"]


def add_xattrs(seed, image):
    """Extended attributes (PAX SCHILY.xattr records, so pax layers only)
    on some files and directories, from a generator of their own: the
    images of a seed are otherwise what they were before xattrs came. A
    directory entry again over a directory (in a later layer, or the same)
    must leave exactly its own xattrs."""
    rng = random.Random(seed * 1000003 + 17)
    for layer in image:
        if layer["format"] != "pax":
            continue
        for e in layer["entries"]:
            if e["kind"] in ("file", "dir") and rng.random() < 0.4:
                e["xattrs"] = {
                    n: "".join(rng.choice("xyz=:. 09") for _ in
                               range(rng.choice([1, 3, 40, 300])))
                    for n in XATTR_NAMES if rng.random() < 0.5}


def generate(seed, dangling=True):
    rng = random.Random(seed)
    model = Model()
    image = [gen_layer(rng, model, dangling) for _ in range(rng.randint(1, 6))]
    add_xattrs(seed, image)
    return image


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
            ti.type, ti.mtime = tarfile.DIRTYPE, 1_600_000_000
            ti.mode = layer.get("root_mode", 0o755)
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
            if e.get("xattrs"):
                ti.pax_headers = {"SCHILY.xattr." + n: v
                                  for n, v in e["xattrs"].items()}
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
            lines.append("  ./  dir %04o" % layer.get("root_mode", 0o755))
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
