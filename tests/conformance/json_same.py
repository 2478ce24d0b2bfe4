#!/usr/bin/env python3
"""Independent JSON oracle for ocispec's round-trip tests.

    python3 json_same.py A1 B1 [A2 B2 ...]

Each pair of files is decoded with Python's json module (not ocispec's
reader) and compared as JSON values: objects as key -> value maps (order
free), arrays in order, numbers by exact decimal value (2e2 equals 200,
1e-78 does not equal 0; no rounding to doubles), strings, booleans and null
by identity.
Prints one "DIFF" line per pair that differs (with the JSON Pointer of the
first difference) and "N same, M differ"; exit 0 when all are the same, 1
when one differs, 2 when a file cannot be read or is not JSON.
"""
import decimal
import json
import sys


def load(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"), parse_float=decimal.Decimal)


def esc(key):
    return key.replace("~", "~0").replace("/", "~1")


def is_number(v):
    return isinstance(v, (int, decimal.Decimal)) and not isinstance(v, bool)


def diff(a, b, ptr=""):
    """The pointer and reason of the first difference, or None."""
    if is_number(a) and is_number(b):
        # JSON has one number type: 2e2 and 200 are the same value
        if decimal.Decimal(a) != decimal.Decimal(b):
            return ptr, "%s vs %s" % (a, b)
        return None
    if type(a) is not type(b):
        return ptr, "%s vs %s" % (type(a).__name__, type(b).__name__)
    if isinstance(a, dict):
        if set(a) != set(b):
            only = sorted(set(a) ^ set(b))
            return ptr, "members differ: %r" % only[:5]
        for k in a:
            d = diff(a[k], b[k], ptr + "/" + esc(k))
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return ptr, "%d vs %d items" % (len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, "%s/%d" % (ptr, i))
            if d:
                return d
        return None
    if a != b:
        return ptr, "%r vs %r" % (a, b)
    return None


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        print("usage: json_same.py A1 B1 [A2 B2 ...]", file=sys.stderr)
        return 2
    same = differ = 0
    for i in range(0, len(argv), 2):
        try:
            a, b = load(argv[i]), load(argv[i + 1])
        except (OSError, ValueError) as e:
            print("ERROR %s %s: %s" % (argv[i], argv[i + 1], e))
            return 2
        d = diff(a, b)
        if d:
            differ += 1
            print("DIFF %s %s: at '%s': %s" % (argv[i], argv[i + 1], d[0], d[1]))
        else:
            same += 1
    print("%d same, %d differ" % (same, differ))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
