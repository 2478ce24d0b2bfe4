#!/usr/bin/env bash
# Build the libFuzzer targets (fuzz/*.c, clang, ASan + UBSan) in build-fuzz/
# and run each for SECONDS seconds (default 60), one after the other.
#
#   bash scripts/fuzz.sh            # every target, 60 s each
#   bash scripts/fuzz.sh 300        # every target, 5 minutes each
#   bash scripts/fuzz.sh 60 types   # only fuzz_types
#   bash scripts/fuzz.sh --seeds    # only build and write the seed corpora
#   bash scripts/fuzz.sh --persist  # refresh the CI corpus fuzz/corpus/<t>/
#
# Seed corpora are generated into build-fuzz/seeds/<target>/ from
# tests/cases, ../shared/bench-inputs and the conformance folder
# ($OCISPEC_CONFORMANCE, default ../shared/conformance), plus the small
# hand-written seeds of fuzz/corpus/<target>/. The working corpus (what the
# fuzzer finds) is build-fuzz/corpus/<target>/ and is kept between runs;
# crashes land in build-fuzz/artifacts/<target>/. Exits non-zero when a
# target finds a crash, a leak or a broken property.
# --persist (no fuzzing): libFuzzer -merge=1 (edges only, -use_counters=0)
# of the working corpus and the seeds into a fresh folder that starts with
# the hand-written seeds of fuzz/corpus/<t>/; of the inputs the merge finds
# adding edges, those adding the most (48 files in all at most) replace the
# m-* files there: the small minimised corpus the repository carries (CI
# fuzzes from it, c_fuzz_replay_<t> replays it).
# Extra environment: JOBS (build parallelism, default 2), FUZZ_FLAGS (more
# libFuzzer flags).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
build=$root/build-fuzz

seconds=60
seeds_only=0
persist=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --seeds) seeds_only=1 ;;
    --persist) persist=1 ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}"; exit 0 ;;
    [0-9]*) seconds=$arg ;;
    *) targets+=("$arg") ;;
  esac
done

conf=${OCISPEC_CONFORMANCE:-$root/../shared/conformance}
bench=$root/../shared/bench-inputs

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOCISPEC_FUZZ=ON \
  -DOCISPEC_TESTS=OFF -DOCISPEC_LUA=OFF >/dev/null
cmake --build "$build" -j "${JOBS:-2}"

if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*.c; do
    targets+=("$(basename "$f" .c)")
  done
fi

# ---- seeds ------------------------------------------------------------------
# (python3: one process instead of thousands of small ones)
seeds=$build/seeds
OCISPEC_FUZZ_LIST_TYPES=1 "$build/fuzz/fuzz_types" >"$build/types.txt"
python3 - "$root" "$build" "$conf" "$bench" <<'EOF'
import hashlib, os, re, shutil, sys
root, build, conf, bench = sys.argv[1:5]
seeds = os.path.join(build, "seeds")
shutil.rmtree(seeds, ignore_errors=True)
index = {}
for line in open(os.path.join(build, "types.txt")):
    i, name = line.split()
    index[name] = int(i)

def type_of(path):  # the type a JSON file holds, from its path
    rules = [("/json/", "image_descriptor"),  # JSONTestSuite: the reader
             ("runtime/.*features", "runtime_features"),
             ("runtime/.*state", "runtime_state"),
             ("runtime", "runtime_spec"),
             ("error-response", "dist_error_response"),
             ("tag-list|listing-tags", "dist_tag_list"),
             ("repository-list", "dist_repository_list"),
             ("oci-layout|/layout/", "image_oci_layout"),
             ("descriptor|referrers", "image_descriptor"),
             ("image-index|/index/|image-layout", "image_index"),
             ("manifest", "image_manifest"),
             ("config", "image_configuration")]
    for pat, t in rules:
        if re.search(pat, path):
            return t
    return None

def files(*dirs, limit=256 << 10):
    for d in dirs:
        for dp, _, fs in os.walk(d):
            for f in sorted(fs):
                p = os.path.join(dp, f)
                if f.endswith(".json") and os.path.getsize(p) < limit:
                    yield p

def put(target, data):
    d = os.path.join(seeds, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

docs = 0
digests = set()
for p in files(os.path.join(root, "tests/cases"), bench, conf):
    data = open(p, "rb").read()
    t = type_of(os.path.relpath(p, os.path.dirname(root)))
    if t:
        put("types", bytes([index[t]]) + data)
        put("validate", bytes([index[t], 0]) + data)
        # lua_binding: type, options, operations (plain, and hashed bits)
        h = hashlib.sha1(data).digest()
        put("lua_binding", bytes([index[t], 0, 0]) + data)
        put("lua_binding", bytes([index[t], h[0], h[1]]) + data)
        docs += 1
    if len(data) < 64 << 10:
        put("json", data)
    digests.update(re.findall(rb'"([a-z0-9+._-]+:[a-zA-Z0-9=_-]{8,})"', data))
for d in sorted(digests)[:500]:
    put("digest", d)
src = open(os.path.join(root, "tests/c/schema/test_reference.c"), "rb").read()
for r in set(re.findall(rb'"([^"\\ ]{1,300})"', src)):
    put("reference", r)
for t in os.listdir(os.path.join(root, "fuzz/corpus")):
    for f in os.listdir(os.path.join(root, "fuzz/corpus", t)):
        put(t, open(os.path.join(root, "fuzz/corpus", t, f), "rb").read())
print("fuzz.sh: seeds:", ", ".join(
    "%s %d" % (t, len(os.listdir(os.path.join(seeds, t))))
    for t in sorted(os.listdir(seeds))), "(%d typed documents)" % docs)
EOF
[ "$seeds_only" -eq 1 ] && exit 0

# ---- persist ----------------------------------------------------------------
if [ "$persist" -eq 1 ]; then
  status=0
  for t in "${targets[@]}"; do
    exe=$build/fuzz/fuzz_$t
    fresh=$build/persist/$t
    dst=$root/fuzz/corpus/$t
    rm -rf "$fresh" "$build/persist_$t.cf"
    mkdir -p "$fresh" "$dst" "$build/corpus/$t" "$seeds/$t"
    # hand-written seeds (every name but m-*) stay, and count as covered
    find "$dst" -maxdepth 1 -type f ! -name 'm-*' -exec cp {} "$fresh/" \;
    "$exe" -merge=1 -use_counters=0 -max_len=65536 \
      -merge_control_file="$build/persist_$t.cf" "$fresh" \
      "$build/corpus/$t" "$seeds/$t" >"$build/persist_$t.log" 2>&1 || {
      echo "fuzz.sh: merge of fuzz_$t failed (log: $build/persist_$t.log)" >&2
      exit 1
    }
    rm -f "$dst"/m-*
    # the merge's control file: for each input, in the merge's order (hand
    # seeds first, then smallest first), the edges it added (FT); of the
    # inputs that added any, those that added the most, up to 48 files
    python3 - "$build/persist_$t.cf" "$dst" <<'EOF2'
import hashlib, os, sys
cf, dst = sys.argv[1:3]
lines = open(cf).read().split("\n")
n, first = int(lines[0]), int(lines[1])
paths = lines[2:2 + n]
added = {}
for line in lines[2 + n:]:
    if line.startswith("FT "):
        parts = line.split()
        added[int(parts[1])] = len(parts) - 2
room = 48 - first
picked = sorted((i for i in added if i >= first and added[i] > 0),
                key=lambda i: (-added[i], i))[:max(room, 0)]
names = set(os.listdir(dst))
for i in picked:
    data = open(paths[i], "rb").read()
    name = "m-" + hashlib.sha1(data).hexdigest()[:16]
    if name not in names:
        open(os.path.join(dst, name), "wb").write(data)
        names.add(name)
kept = sum(added[i] for i in picked)
total = sum(added[i] for i in added if i >= first)
print("fuzz.sh: %s: %d of %d new features (edges) kept by %d of %d inputs that add any"
      % (os.path.basename(dst), kept, total, len(picked),
         sum(1 for i in added if i >= first and added[i] > 0)))
EOF2
    total=$(find "$dst" -maxdepth 1 -type f | wc -l)
    echo "fuzz.sh: fuzz/corpus/$t: $total files ($(du -sk "$dst" | cut -f1) KiB)"
    if [ "$total" -gt 48 ]; then
      echo "fuzz.sh: fuzz/corpus/$t holds more than 48 files" >&2
      status=1
    fi
  done
  exit $status
fi

# ---- run --------------------------------------------------------------------
status=0
for t in "${targets[@]}"; do
  exe=$build/fuzz/fuzz_$t
  [ -x "$exe" ] || { echo "fuzz.sh: no target fuzz_$t" >&2; exit 2; }
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t" "$seeds/$t"
  echo "fuzz.sh: fuzz_$t for ${seconds}s"
  # shellcheck disable=SC2086
  if ! ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$exe" -max_total_time="$seconds" -max_len=65536 -timeout=25 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$t/" ${FUZZ_FLAGS:-} \
        "$build/corpus/$t" "$seeds/$t" \
        >"$build/fuzz_$t.log" 2>&1; then
    echo "fuzz.sh: fuzz_$t FAILED (log: $build/fuzz_$t.log):" >&2
    grep -E 'ERROR|property failed|SUMMARY|Test unit written' \
      "$build/fuzz_$t.log" | head -20 >&2
    status=1
  fi
  grep -E '^stat::number_of_executed_units|^Done' "$build/fuzz_$t.log" | tail -2
done
exit $status
