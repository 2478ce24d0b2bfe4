#!/usr/bin/env python3
"""Values are declared once: every media type, enumeration value,
distribution error code, document kind and well-known host of
csrc/include/ocispec/values.def appears in no other source file of csrc/,
lua/ and bin/ (tests and docs excepted; comments are docs).

    python3 scripts/check-values.py [ROOT]     # exit 1 and file:line per duplicate
    python3 scripts/check-values.py --selftest # the checker finds planted copies

How a copy is found: the string literals of every C file (adjacent literals
joined, escapes decoded) and Lua file (short and long strings) are
extracted, comments skipped. A literal equal to a declared value is a copy.
A literal that merely contains a distinctive value (a media type, a host,
an upper-case token such as CAP_SYS_ADMIN) is a copy too: that catches JSON
text written into a C string. ALLOWED lists the few files whose literals
are documents rather than declarations, each with its reason.
"""
import os
import re
import shutil
import sys
import tempfile

DEF = "csrc/include/ocispec/values.def"
SCAN_DIRS = ("csrc", "lua", "bin")

# file (relative to ROOT) -> reason; its literals are not checked
ALLOWED = {
    "csrc/schema/runtime_defaults.c":
        "the JSON text `runc spec` writes, kept byte for byte: a document, "
        "not a list of values",
}

# ---------------------------------------------------------------- values.def

_C_STR = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def _strip_c_comments(text):
    # keeps newlines so line numbers stay right
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text[i] == '"':
            m = _C_STR.match(text, i)
            if not m:
                out.append(text[i])
                i += 1
                continue
            out.append(m.group(0))
            i = m.end()
        elif text[i] == "'":
            m = re.compile(r"'(?:[^'\\\n]|\\.)*'").match(text, i)
            j = m.end() if m else i + 1
            out.append(text[i:j])
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_def(path):
    """-> list of (value, category, line)"""
    text = _strip_c_comments(open(path, encoding="utf-8").read())
    # join continuation lines, remembering where each logical line starts
    values = []
    lineno = 0
    logical, start = "", 0
    for raw in text.split("\n"):
        lineno += 1
        if not logical:
            start = lineno
        if raw.endswith("\\"):
            logical += raw[:-1] + " "
            continue
        logical += raw
        line, logical = logical.strip(), ""
        if line.startswith("OCI_MEDIA_TYPE("):
            cat = "media type"
        elif line.startswith("#define OCI_VALUES_"):
            cat = "enum value"
        elif line.startswith("OCI_DOC_KIND("):
            cat = "document kind"
        elif line.startswith("OCI_HOST("):
            cat = "host"
        else:
            continue
        if cat == "enum value":
            lits = re.findall(r'X\(\s*\w+\s*,\s*\w+\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)',
                              line)
        else:
            lits = _C_STR.findall(line)[:1]
        for v in lits:
            values.append((v, cat, start))
    return values


def def_errors(values):
    """Declarations that repeat within a category that must be unique."""
    errs, seen = [], {}
    for v, cat, line in values:
        if cat == "enum value":
            continue  # "pid" is a Linux and a z/OS namespace type
        key = (cat, v)
        if key in seen:
            errs.append("%s:%d: %s \"%s\" is declared twice (first on line %d)"
                        % (DEF, line, cat, v, seen[key]))
        else:
            seen[key] = line
    return errs

# ------------------------------------------------------------ string literals


def _c_unescape(s):
    simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\",
              '"': '"', "'": "'", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
              "?": "?"}
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            d = s[i + 1]
            if d == "x":
                m = re.match(r"[0-9a-fA-F]+", s[i + 2:])
                if m:
                    out.append(chr(int(m.group(0), 16) & 0xff))
                    i += 2 + len(m.group(0))
                    continue
            if d in "01234567":
                m = re.match(r"[0-7]{1,3}", s[i + 1:])
                out.append(chr(int(m.group(0), 8) & 0xff))
                i += 1 + len(m.group(0))
                continue
            out.append(simple.get(d, d))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def c_literals(text):
    """-> [(line, value)]: string literals, adjacent ones joined; comments
    and character literals skipped."""
    out, i, n = [], 0, len(text)
    cur, cur_line = None, 0
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c == "'":
            m = re.compile(r"'(?:[^'\\\n]|\\.)*'").match(text, i)
            i = m.end() if m else i + 1
            if cur is not None:
                out.append((cur_line, cur))
                cur = None
        elif c == '"':
            m = _C_STR.match(text, i)
            if not m:
                i += 1
                continue
            if cur is None:
                cur, cur_line = "", text.count("\n", 0, i) + 1
            cur += _c_unescape(m.group(1))
            i = m.end()
        elif c.isspace():
            i += 1
        else:
            if cur is not None:
                out.append((cur_line, cur))
                cur = None
            i += 1
    if cur is not None:
        out.append((cur_line, cur))
    return out


def lua_literals(text):
    """-> [(line, value)] of short and long strings; comments skipped."""
    out, i, n = [], 0, len(text)

    def line_at(k):
        return text.count("\n", 0, k) + 1

    long_open = re.compile(r"\[(=*)\[")
    while i < n:
        c = text[i]
        if text.startswith("--", i):
            m = long_open.match(text, i + 2)
            if m:
                close = "]" + m.group(1) + "]"
                j = text.find(close, m.end())
                i = n if j < 0 else j + len(close)
            else:
                j = text.find("\n", i)
                i = n if j < 0 else j
        elif c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n:
                    d = text[j + 1]
                    buf.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"',
                                "'": "'"}.get(d, d))
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            out.append((line_at(i), "".join(buf)))
            i = j + 1
        elif c == "[":
            m = long_open.match(text, i)
            if m:
                close = "]" + m.group(1) + "]"
                j = text.find(close, m.end())
                j = n if j < 0 else j
                out.append((line_at(i), text[m.end():j]))
                i = j + len(close)
            else:
                i += 1
        else:
            i += 1
    return out

# --------------------------------------------------------------------- scan


def ordinary_word(v, cat):
    """Enumeration values that are ordinary lower-case words ("pid", "new",
    "created", "a") are also JSON member names, messages and mode strings:
    a grep cannot tell them from the value, so they are not checked (the
    code names them by OCI_ENUM_STR / the Lua tables all the same)."""
    return cat == "enum value" and re.fullmatch(r"[a-z][a-z0-9]*", v) is not None


def distinctive(v, cat):
    if cat in ("media type", "host"):
        return True
    return re.fullmatch(r"[A-Z][A-Z0-9]*_[A-Z0-9_]+", v) is not None


def _contains(hay, v):
    # v as a whole token of hay: not part of a longer name or host
    for m in re.finditer(re.escape(v), hay):
        a, b = m.start(), m.end()
        before = hay[a - 1] if a > 0 else ""
        after = hay[b] if b < len(hay) else ""
        if re.match(r"[A-Za-z0-9_.+-]", before or " ") or \
                re.match(r"[A-Za-z0-9_.+-]", after or " "):
            continue
        return True
    return False


def source_files(root):
    for d in SCAN_DIRS:
        top = os.path.join(root, d)
        for dirpath, _, files in os.walk(top):
            for f in sorted(files):
                p = os.path.join(dirpath, f)
                rel = os.path.relpath(p, root)
                if f.endswith((".c", ".h", ".def")):
                    yield rel, "c"
                elif f.endswith(".lua") or rel == os.path.join("bin", "ocispec"):
                    yield rel, "lua"


def check(root):
    values = parse_def(os.path.join(root, DEF))
    if not values:
        return ["%s: no values found" % DEF]
    problems = def_errors(values)
    exact, skipped = {}, set()
    for v, cat, _ in values:
        if ordinary_word(v, cat):
            skipped.add(v)
        else:
            exact.setdefault(v, cat)
    dist = [(v, cat) for v, cat in exact.items() if distinctive(v, cat)]
    for rel, lang in source_files(root):
        if rel == DEF or rel in ALLOWED:
            continue
        text = open(os.path.join(root, rel), encoding="utf-8",
                    errors="replace").read()
        lits = c_literals(text) if lang == "c" else lua_literals(text)
        for line, lit in lits:
            if lit in exact:
                problems.append("%s:%d: %s \"%s\" is written here; use the "
                                "declaration in %s" % (rel, line, exact[lit],
                                                        lit, DEF))
                continue
            for v, cat in dist:
                if v in lit and _contains(lit, v):
                    problems.append("%s:%d: %s \"%s\" is written here (inside "
                                    "\"%s\"); use the declaration in %s"
                                    % (rel, line, cat, v, lit[:60], DEF))
    return problems, len(values), sorted(skipped)


def selftest():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="check-values-")
    try:
        os.makedirs(os.path.join(tmp, os.path.dirname(DEF)))
        shutil.copy(os.path.join(here, DEF), os.path.join(tmp, DEF))
        planted = {
            "csrc/a.c": ('/* "application/vnd.oci.image.index.v1+json" */\n'
                         'static const char *x = "application/vnd.oci."\n'
                         '  "image.index.v1+json";\n'
                         'static const char j[] = "{\\"t\\":\\"CAP_KILL\\"}";\n'
                         'int c = \'"\'; const char *h = "docker.io";\n'),
            "lua/b.lua": ("-- 'SCMP_ACT_LOG' in a comment is fine\n"
                          "local t = { 'SCMP_ACT_LOG', [[image-manifest]] }\n"
                          "local ok = \"pid namespace\"\n"
                          "local u = \"index.docker.io.example\"\n"),
            "bin/ocispec": 'print("BLOB_UNKNOWN")\n',
        }
        for rel, body in planted.items():
            p = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "w").write(body)
        problems = check(tmp)[0]
        want = ["csrc/a.c:2: media type \"application/vnd.oci.image.index.v1+json\"",
                "csrc/a.c:4: enum value \"CAP_KILL\"",
                "csrc/a.c:5: host \"docker.io\"",
                "lua/b.lua:2: enum value \"SCMP_ACT_LOG\"",
                "lua/b.lua:2: document kind \"image-manifest\"",
                "bin/ocispec:1: enum value \"BLOB_UNKNOWN\""]
        bad = 0
        for w in want:
            if not any(p.startswith(w) for p in problems):
                print("SELFTEST FAIL: not reported: " + w)
                bad += 1
        if len(problems) != len(want):
            print("SELFTEST FAIL: %d problems reported, %d expected:"
                  % (len(problems), len(want)))
            for p in problems:
                print("  " + p)
            bad += 1
        # a value declared twice
        d = os.path.join(tmp, DEF)
        s = open(d).read()
        open(d, "w").write(s + '\nOCI_HOST(DUP, "docker.io")\n')
        problems = check(tmp)[0]
        if not any("host \"docker.io\" is declared twice" in p for p in problems):
            print("SELFTEST FAIL: a host declared twice is not reported")
            bad += 1
        print("selftest: %s" % ("FAILED" if bad else "ok (%d planted copies found)"
                                 % len(want)))
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp)


def main(argv):
    if argv[1:] == ["--selftest"]:
        return selftest()
    root = argv[1] if len(argv) > 1 else \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = check(root)
    if isinstance(result, list):
        for p in result:
            print(p)
        return 1
    problems, count, skipped = result
    for p in problems:
        print(p)
    print("not checked (ordinary words, see ordinary_word): %s"
          % " ".join(skipped))
    for rel, why in sorted(ALLOWED.items()):
        print("allowed: %s: %s" % (rel, why))
    if problems:
        print("%d value(s) written outside %s" % (len(problems), DEF))
        return 1
    print("ok: %d declared values, each written once (%s)" % (count, DEF))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
