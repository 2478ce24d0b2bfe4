# The paths that differ between two unpacked trees, sorted, one a line:
#   python3 tests/diff/tree_diff.py ROOT_A ROOT_B
# A path differs when its type, mode bits, owner, content (sha256 of a
# file, a symbolic link's target) or extended attributes (but
# security.selinux) differ, or when one tree lacks it. The oracle of
# spec/diff_spec.lua (against umoci's unpacked trees) and the walk that
# bench/diff.lua times.
import os, sys, hashlib, stat
def walk(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            c = None
            if stat.S_ISREG(st.st_mode):
                c = hashlib.sha256(open(p, "rb").read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                c = os.readlink(p)
            xs = sorted((x, os.getxattr(p, x, follow_symlinks=False))
                        for x in os.listxattr(p, follow_symlinks=False)
                        if x != "security.selinux")
            out["/" + os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                                                   st.st_uid, st.st_gid, c, xs)
    return out
a, b = walk(sys.argv[1]), walk(sys.argv[2])
for p in sorted(set(a) | set(b)):
    if a.get(p) != b.get(p):
        print(p)
