#!/usr/bin/env python3
"""The C API contract (DESIGN.md "C API"), checked on the sources, so a new
public function or options struct cannot miss it:

1. errors: every OCI_API function of csrc/include/ocispec/*.h that takes an
   `oci_error *` starts its definition with `oci_error_reset(<err>);` (or
   the layout's OL_ERR(<err>), which calls it). error.h's own helpers,
   which exist to fill an error, are exempt.

2. options: every `typedef struct oci_<x>_options` of the public headers
   has `unsigned version;` as its first member, and the headers define
   OCI_<X>_OPTIONS_VERSION and OCI_<X>_OPTIONS_INIT and declare
   `OCI_API void oci_<x>_options_init(oci_<x>_options *o)`.

3. ownership: every OCI_API function that returns a pointer or fills a
   `**` out-parameter says who owns the result in its comment (the comment
   right above it, or above the run of declarations it belongs to): one
   of "caller", "free", "owned by", "static", "points into", "valid
   until/while".

4. public headers hold the public API only: the core's internal building
   blocks (csrc/internal.h, csrc/schema/strcheck_internal.h) are not
   named in csrc/include/ocispec/*.h.

Usage: check-c-api.py [SOURCE_DIR]. Prints each violation; exit 1 if any.
"""
import glob
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")
EXEMPT = {"oci_error_clear", "oci_error_set", "oci_error_set_pointer"}


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
    headers = ""
    for h in sorted(glob.glob(os.path.join(ROOT, "csrc/include/ocispec/*.h"))):
        headers += strip_comments(open(h, encoding="utf-8").read())
    nopts = 0
    for m in re.finditer(r"typedef struct (oci_(\w+)_options) \{\s*([^;]*);",
                         headers):
        struct, x, first = m.group(1), m.group(2), " ".join(m.group(3).split())
        X = x.upper()
        nopts += 1
        if first != "unsigned version":
            problems.append(f"{struct}: first member is `{first}`, not "
                            "`unsigned version`")
        for macro in (f"OCI_{X}_OPTIONS_VERSION", f"OCI_{X}_OPTIONS_INIT"):
            if not re.search(r"#define " + macro + r"\b", headers):
                problems.append(f"{struct}: no #define {macro}")
        if not re.search(r"OCI_API void " + struct + r"_init\(" + struct +
                         r" \*\w+\);", headers):
            problems.append(f"{struct}: no OCI_API void {struct}_init("
                            f"{struct} *o);")
    print(f"check-c-api: {nopts} options structs checked")
    nown = 0
    owner_words = re.compile(r"caller|free|owned by|static|points? into|"
                             r"valid (until|while)", re.I)
    for h in sorted(glob.glob(os.path.join(ROOT, "csrc/include/ocispec/*.h"))):
        raw = open(h, encoding="utf-8").read()
        decl = re.compile(r"OCI_API\s+([^;{}]*?)\(([^;{}]*?)\)\s*"
                          r"(?:OCI_PRINTF\([^)]*\))?\s*;", re.S)
        for m in decl.finditer(raw):
            name = re.findall(r"(\w+)\s*$", m.group(1))
            if not name or "/*" in m.group(0):
                continue
            if "*" not in m.group(1) and "**" not in m.group(2):
                continue
            nown += 1
            # the comment above, skipping declarations of the same run
            pre = raw[:m.start()].rstrip()
            while not pre.endswith("*/"):
                prev = pre.rfind("\n")
                line = pre[prev + 1:]
                if prev < 0 or not line.strip() or line.lstrip().startswith(
                        "#"):
                    pre = ""
                    break
                pre = pre[:prev].rstrip()
            comment = pre[pre.rfind("/*"):] if pre else ""
            if not owner_words.search(comment):
                problems.append(f"{os.path.basename(h)}: {name[0]}: its "
                                "comment does not say who owns what it "
                                "returns")
    print(f"check-c-api: {nown} functions returning pointers checked")
    internal = ["oci_scan_words", "oci_fail_value", "oci_quote",
                "OCI_QUOTE_SIZE", "oci_word_grammar", "oci_word_fail",
                "oci_ascii_digit", "oci_type_fast", "oci_field_fast",
                "OCI_QUOTED_KEY_MAX", "oci_error_reset", "oci_options_check",
                "oci_arena_set_root", "oci_arena_root"]
    for h in sorted(glob.glob(os.path.join(ROOT, "csrc/include/ocispec/*"))):
        text = open(h, encoding="utf-8").read()
        for name in internal:
            if re.search(r"\b" + name + r"\b", text):
                problems.append(f"{os.path.basename(h)}: names {name}, "
                                "which is internal")
    for p in problems:
        print(p)
    print(f"check-c-api: {checked} functions taking an oci_error checked, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
