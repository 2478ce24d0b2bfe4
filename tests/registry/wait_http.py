#!/usr/bin/env python3
"""Wait until an HTTP server answers, for spec/fixtures/registry.lua.

    wait_http.py URL [--status 200,401] [--pid PID] [--timeout 10] [--body]
                     [--cafile PEM]

Polls GET URL (127.0.0.1 only) every 0.1 s until it answers one of the
statuses (an https URL is verified against --cafile); prints the status (and with --body the body on the next lines)
and exits 0. Exits 1 on timeout and 2 as soon as process PID is gone (or a
zombie), printing the last status or error seen.
"""
import argparse
import os
import ssl
import sys
import time
import urllib.error
import urllib.request


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--status", default="200")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--body", action="store_true")
    ap.add_argument("--cafile")
    args = ap.parse_args()
    if not args.url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
        sys.exit("only http(s)://127.0.0.1 is polled")
    context = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
    wanted = {int(s) for s in args.status.split(",")}
    deadline = time.monotonic() + args.timeout
    last = "nothing"
    while True:
        try:
            with urllib.request.urlopen(args.url, timeout=2, context=context) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        except OSError as e:
            status, body = None, b""
            last = str(e)
        if status is not None:
            last = "HTTP %d" % status
            if status in wanted:
                print(status)
                if args.body:
                    sys.stdout.write(body.decode("utf-8", "replace"))
                return 0
        if args.pid and gone(args.pid):
            print("process %d exited; last: %s" % (args.pid, last))
            return 2
        if time.monotonic() > deadline:
            print("timeout after %.0f s; last: %s" % (args.timeout, last))
            return 1
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
