#!/usr/bin/env python3
"""Differential test of ocispec's unpacker against umoci.

For each seed: gen.py makes a random image (1-6 layers of random entries
over a small path alphabet), writes it as an OCI image layout, and both
`umoci unpack --rootless --image DIR:latest BUNDLE` and ocispec
(`oci.unpack.image(L, "latest", BUNDLE, {rootless = true})`, the calls of
`ocispec unpack --rootless`, through ours.lua) unpack it. The two rootfs
trees are then compared: paths, types, file contents, permission bits
(mode & 0o7777), symbolic link targets and hard-link identity (paths that
share an inode in one tree share it in the other), and the rootfs
folder's own mode (a layer's "./" entry sets it). Times and owners are
not compared. Both tools refusing an
image with a dangling hard link (gen.py makes a few) is agreement; one
refusing, or both refusing any other image (all are legal), is a
difference.

The fixed cases of cases.py (the smallest reproducer of each difference
class found so far) run before the seeds. A difference is a failure
unless a documented exception (EXCEPTIONS below: what, why, the
image-spec sentence umoci breaks) explains it. Failing images are saved
with their seed, listing, diff and image.json under --out.

    diff_umoci.py --seeds 200                   # ctest's short run
    diff_umoci.py --seeds 10000 --jobs 2        # the long run (run.sh)
    diff_umoci.py --seed 1234 --show            # one seed, verbose
    diff_umoci.py --seed 1234 --minimize        # smallest failing image
    diff_umoci.py --case opaque-after-its-dir --show   # one fixed case
    diff_umoci.py --replay FAILURES/seed-N/image.json --minimize

Exit: 0 no difference, 1 differences, 77 umoci missing (skip), 2 usage
error or ours.lua died.
"""

import argparse
import collections
import hashlib
import multiprocessing
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402
import gen  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))

# ------------------------------------------------------------ exceptions
# Differences where umoci is wrong according to image-spec layer.md. Each
# entry is narrow: `match(image, diff)` gets the generated image and one
# difference (a dict, see compare()) and says whether this entry explains
# it. Keep `spec` the exact sentence umoci breaks. The shape:
#
#   {"id": "umoci-...",                      # shown next to the difference
#    "what": "the layers and what each tool makes of them",
#    "why": "why umoci's result is wrong",
#    "spec": 'layer.md: "the sentence umoci breaks"',
#    "match": lambda image, d: d["path"] == ... and d["what"] == "mode"}
#
# Empty: 2 x 10,000 seeds (December 2026, umoci 0.4.7) found no difference
# in which umoci breaks layer.md; every one was ocispec's (see cases.py).
# A difference the spec leaves open is not an exception either: the two
# tools agree on one behaviour, or the generator stops drawing the case.
EXCEPTIONS = []


def explained(image, d):
    for ex in EXCEPTIONS:
        if ex["match"](image, d):
            return ex["id"]
    return None


# ------------------------------------------------------------ the trees

TYPES = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink",
         stat.S_IFIFO: "fifo", stat.S_IFCHR: "chr", stat.S_IFBLK: "blk",
         stat.S_IFSOCK: "sock"}


def snapshot(root):
    """path -> {type, mode, sha, target, inode} for everything under root,
    and "." -> the root's own mode (a layer's "./" entry sets it)."""
    tree = {".": {"type": "dir", "mode": stat.S_IMODE(os.lstat(root).st_mode)}}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            t = TYPES.get(stat.S_IFMT(st.st_mode), "other")
            n = {"type": t}
            if t != "symlink":
                n["mode"] = stat.S_IMODE(st.st_mode)
            if t == "file":
                with open(full, "rb") as f:
                    n["sha"] = hashlib.sha256(f.read()).hexdigest()[:12]
            if t == "symlink":
                n["target"] = os.readlink(full)
            if t != "dir":
                n["inode"] = (st.st_dev, st.st_ino)
            xa = tuple(sorted(
                (x, os.getxattr(full, x, follow_symlinks=False).hex())
                for x in os.listxattr(full, follow_symlinks=False)))
            if xa:
                n["xattrs"] = xa
            tree[rel] = n
    groups = collections.defaultdict(list)
    for p, n in tree.items():
        if "inode" in n:
            groups[n.pop("inode")].append(p)
    for paths in groups.values():
        if len(paths) > 1:
            for p in paths:
                tree[p]["links"] = tuple(sorted(paths))
    return tree


def show(n):
    if n is None:
        return "absent"
    s = n["type"]
    if "mode" in n:
        s += " %04o" % n["mode"]
    if "sha" in n:
        s += " sha256:" + n["sha"]
    if "target" in n:
        s += " -> " + n["target"]
    if "links" in n:
        s += " links=" + ",".join(n["links"])
    if "xattrs" in n:
        s += " xattrs=" + ",".join("%s=%s" % (k, bytes.fromhex(v)[:16])
                                   for k, v in n["xattrs"])
    return s


def compare(ours, theirs):
    """Differences, each {path, what, ours, umoci}; `what` names the first
    attribute that differs: presence, type, mode, content, target, xattrs,
    links."""
    diffs = []
    for p in sorted(set(ours) | set(theirs)):
        a, b = ours.get(p), theirs.get(p)
        if a == b:
            continue
        if a is None or b is None:
            what = "only-umoci" if a is None else "only-ours"
        elif a["type"] != b["type"]:
            what = "type"
        elif a.get("mode") != b.get("mode"):
            what = "mode"
        elif a.get("sha") != b.get("sha"):
            what = "content"
        elif a.get("target") != b.get("target"):
            what = "target"
        elif a.get("xattrs") != b.get("xattrs"):
            what = "xattrs"
        else:
            what = "links"
        diffs.append({"path": p, "what": what, "ours": a, "umoci": b})
    return diffs


def normalise(msg):
    """An error message without its variable parts, for grouping."""
    msg = re.sub(r"sha256:[0-9a-f]{64}", "DIGEST", msg)
    msg = re.sub(r'"[^"]*"', '"…"', msg)
    msg = re.sub(r"/[^\s:\"]+", "PATH", msg)
    msg = re.sub(r"layer \d+", "layer N", msg)
    return msg[:120]


def self_check(tmp):
    """The comparison finds each kind of difference (run before the seeds,
    so that a comparison that sees nothing cannot pass silently)."""
    def tree(name, variant):
        r = os.path.join(tmp, name)
        os.makedirs(os.path.join(r, "d"))
        for f, data in (("f", b"x"), ("g", b"y")):
            with open(os.path.join(r, f), "wb") as fh:
                fh.write(data)
        os.symlink("f", os.path.join(r, "l"))
        os.link(os.path.join(r, "f"), os.path.join(r, "h"))
        if variant == "mode":
            os.chmod(os.path.join(r, "d"), 0o700)
        elif variant == "content":
            with open(os.path.join(r, "g"), "wb") as fh:
                fh.write(b"z")
        elif variant == "target":
            os.remove(os.path.join(r, "l"))
            os.symlink("g", os.path.join(r, "l"))
        elif variant == "links":
            os.remove(os.path.join(r, "h"))
            shutil.copy(os.path.join(r, "f"), os.path.join(r, "h"))
        elif variant == "type":
            os.rmdir(os.path.join(r, "d"))
            os.symlink("f", os.path.join(r, "d"))
        elif variant == "only-ours":
            os.mkdir(os.path.join(r, "d", "e"))
        elif variant == "xattrs":
            os.setxattr(os.path.join(r, "g"), "user.x", b"1")
        return snapshot(r)
    base = tree("base", None)
    for variant, path in (("mode", "d"), ("content", "g"), ("target", "l"),
                          ("links", "f"), ("type", "d"),
                          ("only-ours", "d/e"), ("xattrs", "g")):
        got = [(d["path"], d["what"]) for d in compare(tree(variant, variant),
                                                       base)]
        if (path, variant) not in got:
            raise SystemExit("diff_umoci: self-check: %s of %s not seen: %r"
                             % (variant, path, got))
    if compare(tree("same", None), base):
        raise SystemExit("diff_umoci: self-check: equal trees differ")


# ------------------------------------------------------------ the tools

class DriverDied(Exception):
    """ours.lua is gone: nothing more can be compared."""


class Ours:
    """ours.lua, one process for many images."""

    def __init__(self, build, preload=None, source=SOURCE):
        env = dict(os.environ)
        lua = source + "/lua/?.lua;" + source + "/lua/?/init.lua;;"
        cpath = build + "/lua/?.so;;"
        env.update(LUA_PATH=lua, LUA_PATH_5_4=lua, LUA_CPATH=cpath,
                   LUA_CPATH_5_4=cpath)
        if preload:
            env.update(LD_PRELOAD=preload, ASAN_OPTIONS="detect_leaks=0")
        self.p = subprocess.Popen(["lua5.4", os.path.join(HERE, "ours.lua")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=env, text=True,
                                  errors="backslashreplace")

    def unpack(self, layout, bundle):
        try:
            self.p.stdin.write("%s\tlatest\t%s\n" % (layout, bundle))
            self.p.stdin.flush()
            line = self.p.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise DriverDied("ours.lua exited (status %s) unpacking %s; its "
                             "stderr is above" % (self.p.wait(), layout))
        line = line.rstrip("\n")
        return None if line == "ok" else line.split("\t", 1)[-1]

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def umoci_unpack(layout, bundle):
    r = subprocess.run(["umoci", "unpack", "--rootless", "--image",
                        layout + ":latest", bundle],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode == 0:
        return None
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else "exit %d" % r.returncode


# ------------------------------------------------------------ one image

BOTH = "(both refused a dangling hard link)"


def run_image(image, work, ours):
    """Unpacks `image` with both tools; returns (signature, report lines,
    unexplained differences count)."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    layout = os.path.join(work, "image")
    gen.write_layout(image, layout)
    eo = ours.unpack(layout, os.path.join(work, "ours"))
    eu = umoci_unpack(layout, os.path.join(work, "umoci"))
    if eo is not None or eu is not None:
        if eo is not None and eu is not None:
            if any(e.get("dangling") for la in image for e in la["entries"]):
                return [BOTH], [], 0  # a dangling hard link: agreement
            # the model makes every other image legal: both are wrong
            return (["both-error: " + normalise(eo)],
                    ["both refused a legal image: ocispec: %s; umoci: %s"
                     % (eo, eu)], 1)
        if eo is not None:
            sig = "ours-error: " + normalise(eo)
            return [sig], ["ocispec failed, umoci did not: " + eo], 1
        sig = "umoci-error: " + normalise(eu)
        return [sig], ["umoci failed, ocispec did not: " + eu], 1
    diffs = compare(snapshot(os.path.join(work, "ours", "rootfs")),
                    snapshot(os.path.join(work, "umoci", "rootfs")))
    sigs, lines, bad = set(), [], 0
    for d in diffs:
        ex = explained(image, d)
        tag = "  [exception %s]" % ex if ex else ""
        lines.append("%-10s %-12s ours: %-40s umoci: %s%s" % (
            d["path"], d["what"], show(d["ours"]), show(d["umoci"]), tag))
        if not ex:
            bad += 1
            ta = d["ours"]["type"] if d["ours"] else "-"
            tb = d["umoci"]["type"] if d["umoci"] else "-"
            sigs.add("%s(ours %s, umoci %s)" % (d["what"], ta, tb))
    return sorted(sigs), lines, bad


def save_failure(out, seed, image, lines):
    d = os.path.join(out, seed if isinstance(seed, str) else "seed-%d" % seed)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    gen.write_layout(image, os.path.join(d, "image"))
    with open(os.path.join(d, "image.json"), "w") as f:
        f.write(gen.dump(image))
    if isinstance(seed, str):
        what, opt = "fixed case " + seed[5:], "--case " + seed[5:]
    else:
        what, opt = "seed %d" % seed, "--seed %d" % seed
    with open(os.path.join(d, "README.txt"), "w") as f:
        f.write("%s\n\nreproduce:\n"
                "  python3 tests/diff_umoci/diff_umoci.py %s --show\n"
                "  python3 tests/diff_umoci/diff_umoci.py --replay image.json --show\n"
                "  umoci unpack --rootless --image image:latest bundle-umoci\n"
                "  ocispec unpack --rootless image:latest bundle-ours\n\n"
                "%s\n\ndifferences:\n%s\n"
                % (what, opt, gen.describe(image), "\n".join(lines)))
    return d


# ------------------------------------------------------------ many seeds

_ours = None
_args = None


def _init(args):
    global _ours, _args
    _args = args
    _ours = Ours(args.build_dir, args.preload, args.source_dir)


def _one(seed):
    image = gen.generate(seed)
    work = os.path.join(_args.work, "w%d" % os.getpid())
    try:
        sigs, lines, bad = run_image(image, work, _ours)
    except DriverDied:
        raise
    except Exception as e:  # a harness failure is a failure too
        sigs, lines, bad = ["harness: %s" % type(e).__name__], [repr(e)], 1
    saved = None
    if bad and _args.out:
        saved = save_failure(_args.out, seed, image, lines)
    shutil.rmtree(work, ignore_errors=True)
    return seed, sigs, lines, bad, saved


def minimize(image, work, ours):
    """Greedy: drop layers, then entries, while the differences stay a
    non-empty subset of the original ones."""
    sigs0 = set(run_image(image, work, ours)[0]) - {BOTH}
    if not sigs0:
        return image

    def still(img):
        s = set(run_image(img, work, ours)[0])
        return s and s <= sigs0 and BOTH not in s

    changed = True
    while changed:
        changed = False
        for i in range(len(image)):
            if len(image) > 1:
                cand = image[:i] + image[i + 1:]
                if still(cand):
                    image, changed = cand, True
                    break
        if changed:
            continue
        for i, layer in enumerate(image):
            for j in range(len(layer["entries"])):
                lay = dict(layer, entries=layer["entries"][:j] +
                           layer["entries"][j + 1:])
                cand = image[:i] + [lay] + image[i + 1:]
                if still(cand):
                    image, changed = cand, True
                    break
            if changed:
                break
            for flag, val in (("root", False), ("gzip", False),
                              ("prefix", ""), ("format", "gnu")):
                if layer[flag] != val:
                    cand = image[:i] + [dict(layer, **{flag: val})] + \
                        image[i + 1:]
                    if still(cand):
                        image, changed = cand, True
                        break
            if changed:
                break
    return image


def main():
    try:
        return run()
    except DriverDied as e:
        print("diff_umoci: %s" % e, file=sys.stderr)
        return 2


def run():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=200, help="how many seeds")
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--seed", type=int, help="one seed only")
    ap.add_argument("--case", help="one fixed case of cases.py only")
    ap.add_argument("--replay", metavar="IMAGE.JSON",
                    help="one saved image (a failure folder's image.json)")
    ap.add_argument("--show", action="store_true",
                    help="print the layers and every difference")
    ap.add_argument("--minimize", action="store_true",
                    help="with --seed: shrink the failing image")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-cases", action="store_true",
                    help="skip the fixed cases of cases.py")
    ap.add_argument("--build-dir", default=os.environ.get(
        "OCISPEC_BUILD_DIR", os.path.join(SOURCE, "build")))
    ap.add_argument("--source-dir", default=SOURCE,
                    help="the tree whose lua/ goes with --build-dir")
    ap.add_argument("--preload", help="LD_PRELOAD for lua5.4 (ASan builds)")
    ap.add_argument("--out", help="folder for failing images "
                    "(default: a temporary folder, kept when anything fails)")
    ap.add_argument("--summary", help="also write the summary to this file")
    args = ap.parse_args()

    if not shutil.which("umoci"):
        print("SKIP: umoci is not installed")
        return 77
    core = os.path.join(args.build_dir, "lua", "ocispec", "core.so")
    if not os.path.exists(core):
        print("diff_umoci: %s not found: build first or pass --build-dir"
              % core, file=sys.stderr)
        return 2
    args.build_dir = os.path.abspath(args.build_dir)
    tmp = tempfile.mkdtemp(prefix="diff-umoci-")
    self_check(os.path.join(tmp, "self-check"))
    args.work = tmp
    if args.out is None:
        args.out = os.path.join(tmp, "failures")
    args.out = os.path.abspath(args.out)

    if args.seed is not None or args.case or args.replay:
        ours = Ours(args.build_dir, args.preload, args.source_dir)
        if args.replay:
            with open(args.replay) as f:
                image = gen.load(f.read())
            args.case = "replay"
        elif args.case:
            found = [c for c in cases.CASES if c[0] == args.case]
            if not found:
                print("diff_umoci: no case %r (cases.py has: %s)" % (
                    args.case, " ".join(c[0] for c in cases.CASES)),
                    file=sys.stderr)
                return 2
            image = found[0][3]
        else:
            image = gen.generate(args.seed)
        if args.minimize:
            image = minimize(image, os.path.join(tmp, "w"), ours)
        sigs, lines, bad = run_image(image, os.path.join(tmp, "w"), ours)
        ours.close()
        label = "case " + args.case if args.case else "seed %d" % args.seed
        if args.show or args.minimize or bad:
            print("%s\n%s" % (label, gen.describe(image)))
            print("differences:" if lines else "no difference")
            for ln in lines:
                print("  " + ln)
            for s in sigs:
                print("class: " + s)
        if bad:
            print("saved: " + save_failure(
                args.out, "case-" + args.case if args.case else args.seed,
                image, lines))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        return 1 if bad else 0

    t0 = time.time()
    seeds = range(args.start, args.start + args.seeds)
    classes = collections.OrderedDict()
    failed = both = 0
    case_failed = []
    for old in os.listdir(args.out) if os.path.isdir(args.out) else []:
        if old.startswith(("seed-", "case-")):  # a previous run's
            shutil.rmtree(os.path.join(args.out, old))
    if not args.no_cases:
        ours = Ours(args.build_dir, args.preload, args.source_dir)
        for name, seed, what, image in cases.CASES:
            sigs, lines, bad = run_image(image, os.path.join(tmp, "w"), ours)
            if bad:
                case_failed.append(name)
                print("case %s (%s: %s): %s" % (
                    name, "hand-written" if seed is None else
                    "from seed %d" % seed, what, " + ".join(sigs)))
                for ln in lines[:12]:
                    print("    " + ln)
                save_failure(args.out, "case-" + name, image, lines)
        ours.close()
    if args.jobs > 1:
        pool = multiprocessing.Pool(args.jobs, _init, (args,))
        results = pool.imap_unordered(_one, seeds, chunksize=8)
    else:
        _init(args)
        results = map(_one, seeds)
    for seed, sigs, lines, bad, saved in results:
        if not bad:
            both += sigs == [BOTH]
            continue
        failed += 1
        key = " + ".join(sigs)
        c = classes.setdefault(key, {"count": 0, "seeds": []})
        c["count"] += 1
        c["seeds"].append(seed)
        if c["count"] <= 1:  # the first of each class in full
            print("seed %d: %s (saved in %s)" % (seed, key, saved))
            for ln in lines[:12]:
                print("    " + ln)
    if args.jobs > 1:
        pool.close()
        pool.join()
    elapsed = time.time() - t0
    summary = ["%d fixed cases, %d with differences%s" % (
        0 if args.no_cases else len(cases.CASES), len(case_failed),
        ": " + " ".join(case_failed) if case_failed else ""),
        "%d seeds (%d..%d), %d with differences, %d refused by both "
        "(dangling hard links), %.1f s" % (
            args.seeds, args.start, args.start + args.seeds - 1, failed, both,
            elapsed)]
    for key, c in sorted(classes.items(), key=lambda kv: -kv[1]["count"]):
        summary.append("%6d  %s  (seeds %s)" % (
            c["count"], key, " ".join(map(str, sorted(c["seeds"])[:5]))))
    print("\n".join(summary))
    if args.summary:
        with open(args.summary, "w") as f:
            f.write("\n".join(summary) + "\n")
    failed += len(case_failed)
    if failed:
        print("failing images: " + args.out)
        shutil.rmtree(os.path.join(tmp, "w"), ignore_errors=True)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
