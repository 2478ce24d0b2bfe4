#!/usr/bin/env python3
"""The C API contract (DESIGN.md "C API"), checked on the sources, so a new
public function or options struct cannot miss it:

1. errors: every OCI_API function of csrc/include/ocispec/*.h that takes an
   `oci_error *` starts its definition with `oci_error_reset(<err>);` (or
   the layout's OL_ERR(<err>), which calls it). error.h's own helpers,
   which exist to fill an error, are exempt.

Usage: check-c-api.py [SOURCE_DIR]. Prints each violation; exit 1 if any.
"""
import glob
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")
EXEMPT = {"oci_error_clear", "oci_error_set", "oci_error_set_pointer",
          "oci_fail_value"}  # an internal helper, leaving the public headers


def strip_comments(s):
    return re.sub(r"/\*.*?\*/", " ", s, flags=re.S)


def public_functions():
    """(header, name, params) of every OCI_API function declaration."""
    out = []
    for h in sorted(glob.glob(os.path.join(ROOT, "csrc/include/ocispec/*.h"))):
        s = strip_comments(open(h, encoding="utf-8").read())
        for m in re.finditer(r"OCI_API\s+([^;{}]*?)\(([^;{}]*?)\)\s*"
                             r"(?:OCI_PRINTF\([^)]*\))?\s*;", s, flags=re.S):
            name = re.findall(r"(\w+)\s*$", m.group(1))
            if name:
                out.append((os.path.basename(h), name[0], m.group(2)))
    return out


def definitions():
    srcs = {}
    for f in glob.glob(os.path.join(ROOT, "csrc/*/*.c")):
        if os.sep + "lua" + os.sep in f:
            continue
        srcs[f] = strip_comments(open(f, encoding="utf-8").read())
    return srcs


def main():
    problems = []
    srcs = definitions()
    fns = public_functions()
    checked = 0
    for header, name, params in fns:
        pm = re.search(r"oci_error\s*\*\s*(\w+)", params)
        if not pm or name in EXEMPT:
            continue
        found = None
        for f, s in srcs.items():
            m = re.search(r"^[a-z][^\n;]*\b" + name + r"\s*\(([^;{}]*?)\)\s*\{",
                          s, flags=re.M | re.S)
            if m:
                found = (f, m, s)
                break
        if not found:
            problems.append(f"{header}: {name}: no definition in csrc/*/*.c")
            continue
        f, m, s = found
        dm = re.search(r"oci_error\s*\*\s*(\w+)", m.group(1))
        err = dm.group(1) if dm else "err"
        first = s[m.end():].lstrip().split(";", 1)[0].strip()
        if first not in (f"oci_error_reset({err})", f"OL_ERR({err})"):
            line = s[:m.start()].count("\n") + 1
            problems.append(
                f"{os.path.relpath(f, ROOT)}:{line}: {name} does not start "
                f"with oci_error_reset({err}); (first statement: {first[:60]})")
        checked += 1
    for p in problems:
        print(p)
    print(f"check-c-api: {checked} functions taking an oci_error checked, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
