"""Fixed images: the smallest reproducer of each difference class the
random runs found (shrunk with `diff_umoci.py --seed N --minimize`), run
before the random seeds so that each class stays covered whatever the
generator draws; and a few hand-written ones for what the generator
draws rarely (seed None). Each: name, the seed it came from, what it
checks, and its layers (gen.py's format, written with the helpers below).
"""


LONG = "long-" + "x" * 120


def layer(*entries, gz=False, fmt="gnu"):
    out = []
    for e in entries:
        kind, path = e[0], e[1]
        d = {"kind": kind, "path": path, "mtime": 1_600_000_000}
        if kind == "dir":
            d["mode"] = e[2] if len(e) > 2 else 0o755
        elif kind == "file":
            d["mode"] = e[2] if len(e) > 2 else 0o644
            d["data"] = e[3] if len(e) > 3 else b"data"
        elif kind in ("symlink", "hardlink"):
            d["link"] = e[2]
            d["mode"] = 0o644
        elif kind == "fifo":
            d["mode"] = e[2] if len(e) > 2 else 0o644
        out.append(d)
    return {"entries": out, "gzip": gz, "format": fmt, "prefix": "",
            "root": False}


CASES = [
    ("dir-replaced-by-symlink", 0,
     "a non-empty directory replaced by a symbolic link (usrmerge's "
     "bin -> usr/bin; issue 13 item 3)",
     [layer(("dir", "b"), ("dir", "b/b")),
      layer(("symlink", "b", "/c/a"))]),
    ("dir-replaced-by-file", 0,
     "a non-empty directory replaced by a file (issue 13 item 3)",
     [layer(("dir", "b"), ("file", "b/f")),
      layer(("file", "b", 0o644, b"now a file"))]),
    ("opaque-after-its-dir", 408,
     "opaque marker right after its directory's entry, as Docker and "
     "BuildKit write it: lower children go (issue 13 item 2)",
     [layer(("dir", "a"), ("dir", "a/c"), ("file", "a/c/c", 0o444)),
      layer(("dir", "a/c", 0o1777), ("opaque", "a/c"),
            ("file", "a/c/new"))]),
    ("whiteout-after-same-layer-dir", 52,
     "`.wh.b` after this layer's own `b/`: the lower `b` and its children "
     "go, this layer's `b` stays",
     [layer(("dir", "b"), ("dir", "b/b", 0o750)),
      layer(("dir", "b", 0o775), ("whiteout", "b"))]),
    ("opaque-spares-implicit-parents", 1,
     "an opaque marker after entries whose parents the layer created "
     "without entries of their own: they are this layer's and stay",
     [layer(("file", "a/a/c"), ("opaque", ""))]),
    ("whiteout-spares-implicit-parent", 201,
     "`.wh.c` after `c/b` (no `c/` entry) in one layer: `c` is this "
     "layer's, `c/b` stays",
     [layer(("file", "c/b"), ("whiteout", "c"), ("dir", "c", 0o700))]),
    ("duplicate-dir-entry-last-wins", 97,
     "the same directory twice in one layer: the last entry's mode",
     [layer(("dir", "b", 0o775), ("dir", "b", 0o755))]),
    ("implicit-dir-under-setgid", 20083,
     "a directory created for a deeper entry (no entry of its own) under "
     "a setgid directory inherits setgid, as tar and the kernel do",
     [layer(("dir", "a", 0o2755), ("symlink", "a/b/c", "/missing"))]),
    ("implicit-dir-after-setgid-cleared", 210,
     "an entry clears a lower directory's setgid bit before the layer "
     "creates a directory under it: no setgid inherited",
     [layer(("dir", "c", 0o2755)),
      layer(("dir", "c", 0o755), ("file", "c/a/c"))]),
    ("stale-dir-attributes-after-parent-replaced", 4483,
     "`b/b/` 1777, then `b` replaced by a file (b/b goes with it), then "
     "`b/` and `b/b/a`: the new, implicit b/b must not get the removed "
     "b/b's mode",
     [layer(("dir", "b/b", 0o1777), ("file", "b", 0o755), ("dir", "b"),
            ("file", "b/b/a"))]),
    ("long-names", None,
     "names and hard-link targets past ustar's 100 bytes (GNU long name "
     "and long link records, PAX path and linkpath)",
     [layer(("dir", LONG), ("file", LONG + "/f"), ("hardlink", "h", LONG + "/f"),
            ("symlink", "s", LONG + "/f")),
      layer(("file", LONG + "/g"), ("hardlink", LONG + "/h", "h"), fmt="pax")]),
    ("utf8-names", None,
     "non-ASCII names, targets and whiteouts (PAX UTF-8 records, raw bytes "
     "in GNU headers)",
     [layer(("dir", "d\u00e9"), ("file", "d\u00e9/caf\u00e9"),
            ("symlink", "l", "d\u00e9/caf\u00e9"), fmt="pax"),
      layer(("whiteout", "d\u00e9/caf\u00e9"), ("file", "\u00fc", 0o600),
            ("hardlink", "h", "\u00fc"))]),
    ("fifo-replacements", None,
     "FIFOs replacing and replaced by files and directories",
     [layer(("fifo", "p", 0o600), ("fifo", "q"), ("dir", "r"),
            ("file", "r/x")),
      layer(("file", "p", 0o644, b"file"), ("dir", "q"), ("fifo", "r", 0o640))]),
    # entries through symbolic links: resolved inside the root, as umoci
    # (securejoin) does; hand-written from /work/hostile/umoci_probe.py's
    # probes
    ("usrmerge-write-through", None,
     "on a usrmerged base (bin -> usr/bin, relative and absolute) the "
     "entries bin/foo write usr/bin/foo",
     [layer(("dir", "usr"), ("dir", "usr/bin"), ("symlink", "bin", "usr/bin"),
            ("symlink", "sbin", "/usr/bin")),
      layer(("file", "bin/foo"), ("file", "sbin/bar"), ("dir", "bin/d"))]),
    ("link-dotdot-clamps", None,
     "x -> ../../../../tmp: x/foo writes tmp/foo in the root (.. stops at "
     "it); a chain of links with .. and absolute targets",
     [layer(("symlink", "x", "../../../../tmp"), ("dir", "b"),
            ("symlink", "a", "b/../c"), ("symlink", "c", "/x/../usr")),
      layer(("file", "x/foo"), ("file", "a/bin/sh"))]),
    ("whiteouts-through-link", None,
     "a whiteout and an opaque marker through bin -> usr/bin act on "
     "usr/bin; what the layer wrote there, by either name, stays",
     [layer(("dir", "usr"), ("dir", "usr/bin"), ("file", "usr/bin/sh"),
            ("file", "usr/bin/ls"), ("dir", "usr/lib"), ("file", "usr/lib/a"),
            ("symlink", "bin", "usr/bin"), ("symlink", "lib", "/usr/lib")),
      layer(("whiteout", "bin/sh"), ("file", "usr/lib/new"),
            ("opaque", "lib"), ("file", "bin/x"), ("whiteout", "usr/bin/x"))]),
    ("hardlinks-through-link", None,
     "a hard link whose target goes through a link, and one whose target "
     "is a link (the link itself is linked)",
     [layer(("dir", "usr"), ("dir", "usr/bin"), ("file", "usr/bin/sh"),
            ("symlink", "bin", "usr/bin"), ("symlink", "s", "usr/bin/sh")),
      layer(("hardlink", "h", "bin/sh"), ("hardlink", "hs", "s"),
            ("hardlink", "bin/h2", "h"))]),
]
