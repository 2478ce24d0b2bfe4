/* Codec speed: parse, validate, serialize (compact) and round trip, in
   docs/s and MB/s (median of several runs), next to baselines measured in
   the same run: our structure-only JSON pass (oci_json_check, the floor for
   parsing), yajl's parser with empty callbacks (when built with yajl) and
   memcpy of the same bytes. Also the memory a parsed document holds (arena
   bytes vs JSON bytes) and the peak RSS of parsing the 10000-manifest index
   in a fresh process. Figures, never pass/fail.

   Inputs: the four documents of the shared bench-inputs folder (argument
   --inputs DIR, else $OCISPEC_BENCH_INPUTS, else ../shared/bench-inputs
   beside the source tree) and two generated ones, written by this program
   (deterministically) into bench-generated/ under the current folder:
   an index with 10000 manifests and a configuration with 5000 history
   entries.

   MB/s counts the bytes a phase reads, except serialize: the compact bytes
   it writes (the inputs are pretty-printed, so the output is smaller).

   usage: bench_codec [--inputs DIR] [--gen DIR] [--quick]
          bench_codec --generate DIR          write the generated inputs
          bench_codec --rss FILE TYPE         (child) peak RSS of one parse
          bench_codec --loop PHASE FILE TYPE N  (callgrind driver)
          bench_codec --peer run|parse SECONDS OUTDIR NAME:TYPE:PATH...
          bench_codec --peer rss TYPE PATH [N]
   TYPE is manifest, index, config or runtime. --peer speaks the protocol
   of the prebuilt peers in ../shared/peers (their README), so that
   bench/peers.sh drives ours and theirs alike: `run` times the round trip
   (parse + compact write + free), `parse` parse + free only. */
#include <ocispec/ocispec.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef OCISPEC_HAVE_YAJL
#include <yajl/yajl_parse.h>
#endif

#ifndef OCISPEC_SOURCE_DIR
#define OCISPEC_SOURCE_DIR "."
#endif

static int runs = 7;

/* CPU time of this process, not wall-clock: on a loaded machine a pass
   that is descheduled would otherwise count the other processes' time. */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void die(const char *what, const char *why) {
  fprintf(stderr, "bench_codec: %s: %s\n", what, why);
  exit(2);
}

/* ---- inputs ------------------------------------------------------------- */

typedef struct input {
  char name[64];
  const oci_type *type;
  char *buf;
  size_t len;
  void *doc;      /* parsed once, for validate and serialize */
  size_t out_len; /* compact serialization */
  bool shared;    /* one of the four shared inputs (targets apply) */
  double rate[8]; /* docs/s per phase */
  double mbs[8];  /* MB/s per phase */
} input;

static const oci_type *type_by_name(const char *s) {
  if (!strcmp(s, "manifest")) return &oci_type_image_manifest;
  if (!strcmp(s, "index")) return &oci_type_image_index;
  if (!strcmp(s, "config")) return &oci_type_image_configuration;
  if (!strcmp(s, "runtime")) return &oci_type_runtime_spec;
  die(s, "unknown type (manifest, index, config, runtime)");
  return NULL;
}

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die(path, "read");
  fclose(f);
  buf[n] = '\0';
  *len = (size_t)n;
  return buf;
}

/* ---- generated inputs (deterministic) ----------------------------------- */

typedef struct gbuf {
  char *d;
  size_t len, cap;
} gbuf;

static void gput(gbuf *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void gput(gbuf *g, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g->d + g->len, g->cap - g->len, fmt, ap);
    va_end(ap);
    if (n < 0) die("generate", "vsnprintf");
    if ((size_t)n < g->cap - g->len) {
      g->len += (size_t)n;
      return;
    }
    g->cap = g->cap * 2 + (size_t)n + 1;
    g->d = realloc(g->d, g->cap);
    if (!g->d) die("generate", "out of memory");
  }
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* "sha256:" + 64 lowercase hex digits from the generator. */
static void gdigest(gbuf *g, uint64_t *s) {
  gput(g, "sha256:");
  for (int i = 0; i < 4; i++)
    gput(g, "%016llx", (unsigned long long)splitmix(s));
}

/* An index like the shared one (2-space pretty JSON), with n manifests. */
static void gen_index(gbuf *g, int n) {
  static const char *arch[] = {"amd64", "arm64", "ppc64le", "s390x", "386"};
  uint64_t s = 42;
  gput(g, "{\n  \"schemaVersion\": 2,\n  \"mediaType\": "
          "\"application/vnd.oci.image.index.v1+json\",\n  \"manifests\": [\n");
  for (int i = 0; i < n; i++) {
    const char *a = arch[i % 5];
    gput(g, "    {\n      \"mediaType\": "
            "\"application/vnd.oci.image.manifest.v1+json\",\n"
            "      \"digest\": \"");
    gdigest(g, &s);
    gput(g,
         "\",\n      \"size\": %d,\n      \"platform\": {\n"
         "        \"architecture\": \"%s\",\n        \"os\": \"linux\"",
         1000 + (int)(splitmix(&s) % 9000), a);
    if (i % 5 == 1) gput(g, ",\n        \"variant\": \"v8\"");
    gput(g,
         "\n      },\n      \"annotations\": {\n"
         "        \"org.opencontainers.image.ref.name\": \"1.4.%d-%s\"\n"
         "      }\n    }%s\n",
         i, a, i + 1 < n ? "," : "");
  }
  gput(g,
       "  ],\n  \"annotations\": {\n"
       "    \"org.opencontainers.image.created\": \"2024-03-05T23:59:59Z\",\n"
       "    \"org.opencontainers.image.ref.name\": \"1.4.2\"\n  }\n}\n");
}

/* A configuration like the shared one with n history entries (one layer
   step in ten; as many diff_ids as non-empty layers). */
static void gen_config(gbuf *g, int n) {
  uint64_t s = 7;
  gput(g, "{\n  \"created\": \"2024-03-05T23:59:59.123456789Z\",\n"
          "  \"author\": \"Example Builders <builders@example.com>\",\n"
          "  \"architecture\": \"amd64\",\n  \"os\": \"linux\",\n"
          "  \"config\": {\n    \"User\": \"app:app\",\n"
          "    \"Env\": [\n"
          "      \"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin\",\n"
          "      \"LANG=C.UTF-8\"\n    ],\n"
          "    \"Cmd\": [\n      \"python3\",\n      \"-m\",\n      \"app\"\n"
          "    ],\n    \"WorkingDir\": \"/srv/app\"\n  },\n"
          "  \"rootfs\": {\n    \"type\": \"layers\",\n    \"diff_ids\": [\n");
  int layers = (n + 9) / 10;
  for (int i = 0; i < layers; i++) {
    gput(g, "      \"");
    gdigest(g, &s);
    gput(g, "\"%s\n", i + 1 < layers ? "," : "");
  }
  gput(g, "    ]\n  },\n  \"history\": [\n");
  for (int i = 0; i < n; i++) {
    int day = 1 + (i / 200) % 28;
    gput(g,
         "    {\n      \"created\": \"2024-03-%02dT%02d:%02d:%02d.%09dZ\",\n",
         day, i % 24, (i * 7) % 60, (i * 13) % 60,
         100000000 + (i * 7919) % 899999999);
    if (i % 10 == 0)
      gput(g,
           "      \"created_by\": \"RUN /bin/sh -c apt-get update && "
           "apt-get install -y --no-install-recommends pkg-%d # buildkit\"",
           i);
    else
      gput(g,
           "      \"created_by\": \"/bin/sh -c #(nop)  ENV STEP_%d=value-%d "
           "LABEL org.example.step%d=yes\"",
           i, i, i);
    if (i % 5 == 0)
      gput(g,
           ",\n      \"author\": \"Example Builders <builders@example.com>\"");
    if (i % 7 == 0)
      gput(g, ",\n      \"comment\": \"buildkit.dockerfile.v0 step %d\"", i);
    if (i % 10 != 0) gput(g, ",\n      \"empty_layer\": true");
    gput(g, "\n    }%s\n", i + 1 < n ? "," : "");
  }
  gput(g, "  ]\n}\n");
}

static void write_file(const char *dir, const char *name, gbuf *g) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(g->d, 1, g->len, f) != g->len || fclose(f))
    die(path, "cannot write");
}

static void generate(const char *dir) {
  mkdir(dir, 0755);
  gbuf g = {malloc(1 << 20), 0, 1 << 20};
  gen_index(&g, 10000);
  write_file(dir, "index-10000.json", &g);
  g.len = 0;
  gen_config(&g, 5000);
  write_file(dir, "config-5000.json", &g);
  free(g.d);
}

/* ---- phases ------------------------------------------------------------- */

typedef enum {
  PARSE,
  CHECK,
  YAJL,
  VALIDATE,
  SERIALIZE,
  ROUNDTRIP,
  MEMCPY,
  NPHASES
} phase;
static const char *phase_names[] = {
    "parse", "check", "yajl", "validate", "serialize", "roundtrip", "memcpy"};

static volatile size_t sink;

#ifdef OCISPEC_HAVE_YAJL
static int y_null(void *c) {
  (void)c;
  return 1;
}
static int y_bool(void *c, int b) {
  (void)c, (void)b;
  return 1;
}
static int y_num(void *c, const char *s, size_t n) {
  (void)c, (void)s, (void)n;
  return 1;
}
static int y_str(void *c, const unsigned char *s, size_t n) {
  (void)c, (void)s, (void)n;
  return 1;
}
/* yajl_number: numbers are passed as text, not converted. */
static const yajl_callbacks y_cb = {y_null, y_bool, NULL,   NULL,
                                    y_num,  y_str,  y_null, y_str,
                                    y_null, y_null, y_null};
#endif

static void one(input *in, phase p, char *scratch) {
  void *doc = NULL;
  char *out = NULL;
  size_t len = 0;
  oci_problems pr;
  switch (p) {
  case PARSE:
    if (oci_parse(in->type, in->buf, in->len, NULL, &doc, NULL)) exit(1);
    oci_free(doc);
    break;
  case CHECK:
    if (oci_json_check(in->buf, in->len, NULL, NULL)) exit(1);
    break;
  case YAJL: {
#ifdef OCISPEC_HAVE_YAJL
    yajl_handle h = yajl_alloc(&y_cb, NULL, NULL);
    if (yajl_parse(h, (const unsigned char *)in->buf, in->len) !=
            yajl_status_ok ||
        yajl_complete_parse(h) != yajl_status_ok)
      exit(1);
    yajl_free(h);
#endif
    break;
  }
  case VALIDATE:
    oci_validate(in->type, in->doc, &pr);
    sink += pr.len;
    oci_problems_free(&pr);
    break;
  case SERIALIZE:
    if (oci_to_json(in->type, in->doc, NULL, &out, &len, NULL)) exit(1);
    sink += len;
    free(out);
    break;
  case ROUNDTRIP:
    if (oci_parse(in->type, in->buf, in->len, NULL, &doc, NULL)) exit(1);
    if (oci_to_json(in->type, doc, NULL, &out, &len, NULL)) exit(1);
    sink += len;
    free(out);
    oci_free(doc);
    break;
  case MEMCPY:
    memcpy(scratch, in->buf, in->len);
    sink += (size_t)scratch[in->len / 2];
    break;
  case NPHASES: break;
  }
}

/* Median docs/s over `runs` timed passes of about 20 ms each. */
static double median_rate(input *in, phase p) {
  char *scratch = malloc(in->len + 1);
  /* calibrate: iterations for ~20 ms */
  size_t iters = 1;
  for (;;) {
    double t0 = now();
    for (size_t i = 0; i < iters; i++)
      one(in, p, scratch);
    double t = now() - t0;
    if (t > 0.02 || iters > ((size_t)1 << 30)) break;
    iters = t < 0.002 ? iters * 10 : (size_t)((double)iters * 0.025 / t) + 1;
  }
  double r[32];
  for (int k = 0; k < runs; k++) {
    double t0 = now();
    for (size_t i = 0; i < iters; i++)
      one(in, p, scratch);
    r[k] = (double)iters / (now() - t0);
  }
  free(scratch);
  qsort(r, (size_t)runs, sizeof r[0], cmp_double);
  return r[runs / 2];
}

/* ---- peak RSS in a fresh process ---------------------------------------- */

static long vm_hwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) v = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return v;
}

static int rss_child(const char *path, const char *type) {
  size_t len;
  char *buf = read_all(path, &len);
  if (!buf) die(path, "cannot open");
  long before = vm_hwm_kb();
  void *doc;
  oci_error err;
  if (oci_parse(type_by_name(type), buf, len, NULL, &doc, &err))
    die(path, err.message);
  long after = vm_hwm_kb();
  size_t arena = oci_arena_bytes(((oci_object *)doc)->arena);
  printf("%ld %ld %zu %zu\n", before, after, arena, len);
  oci_free(doc);
  free(buf);
  return 0;
}

static void peak_rss(const char *self, const char *path, const char *type) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' --rss '%s' %s", self, path, type);
  FILE *p = popen(cmd, "r");
  long before = 0, after = 0;
  size_t arena = 0, len = 0;
  if (!p || fscanf(p, "%ld %ld %zu %zu", &before, &after, &arena, &len) != 4) {
    printf("peak RSS: could not run %s\n", cmd);
    if (p) pclose(p);
    return;
  }
  pclose(p);
  printf("peak RSS, fresh process parsing %s (%zu bytes): VmHWM %ld KiB with "
         "the input read, %ld KiB after parsing: +%ld KiB = %.2fx the JSON "
         "(arena %zu bytes = %.2fx)\n",
         strrchr(path, '/') ? strrchr(path, '/') + 1 : path, len, before, after,
         after - before, (double)(after - before) * 1024.0 / (double)len, arena,
         (double)arena / (double)len);
}

/* ---- callgrind driver ---------------------------------------------------- */

/* Not inlined: `valgrind --tool=callgrind --toggle-collect=bench_loop`
   counts only the instructions of the measured loop. */
__attribute__((noinline)) void bench_loop(input *in, phase p, long n);
__attribute__((noinline)) void bench_loop(input *in, phase p, long n) {
  char *scratch = malloc(in->len + 1);
  for (long i = 0; i < n; i++)
    one(in, p, scratch);
  free(scratch);
}

static int loop_main(const char *ph, const char *path, const char *type,
                     long n) {
  input in = {{0}, type_by_name(type), NULL, 0, NULL, 0, false, {0}, {0}};
  in.buf = read_all(path, &in.len);
  if (!in.buf) die(path, "cannot open");
  oci_error err;
  if (oci_parse(in.type, in.buf, in.len, NULL, &in.doc, &err))
    die(path, err.message);
  phase p = NPHASES;
  for (int i = 0; i < NPHASES; i++)
    if (!strcmp(ph, phase_names[i])) p = (phase)i;
  if (p == NPHASES) die(ph, "unknown phase");
  bench_loop(&in, p, n);
  oci_free(in.doc);
  free(in.buf);
  return 0;
}

/* ---- the peers' protocol (../shared/peers/README.md) --------------------- */

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* `run`/`parse` SECONDS OUTDIR NAME:TYPE:PATH...: for each input, its first
   output to OUTDIR/NAME.json (`-` for none), ~0.1 s of warm-up, then
   batches of ~5 ms until SECONDS of wall time; one RESULT line each. */
static int peer_run(bool roundtrip, double seconds, const char *outdir, int n,
                    char **specs) {
  for (int i = 0; i < n; i++) {
    char spec[4096];
    snprintf(spec, sizeof spec, "%s", specs[i]);
    char *type = strchr(spec, ':');
    char *path = type ? strchr(type + 1, ':') : NULL;
    if (!path) die(specs[i], "not NAME:TYPE:PATH");
    *type++ = '\0';
    *path++ = '\0';
    input in = {{0}, type_by_name(type), NULL, 0, NULL, 0, false, {0}, {0}};
    in.buf = read_all(path, &in.len);
    if (!in.buf) die(path, "cannot open");
    oci_error err;
    void *doc;
    char *out;
    size_t out_len;
    if (oci_parse(in.type, in.buf, in.len, NULL, &doc, &err) ||
        oci_to_json(in.type, doc, NULL, &out, &out_len, &err))
      die(path, err.message);
    oci_free(doc);
    if (strcmp(outdir, "-")) {
      char opath[8200];
      if (snprintf(opath, sizeof opath, "%s/%s.json", outdir, spec) >=
          (int)sizeof opath)
        die(outdir, "path too long");
      FILE *f = fopen(opath, "wb");
      if (!f || fwrite(out, 1, out_len, f) != out_len || fclose(f))
        die(opath, "cannot write");
    }
    free(out);
    phase p = roundtrip ? ROUNDTRIP : PARSE;
    long batch = 1, iters = 0;
    double w0 = wall_now();
    while (wall_now() - w0 < 0.1) /* warm-up; sizes the 5 ms batch */
      one(&in, p, NULL), batch++;
    batch = (long)((double)batch * 0.005 / 0.1) + 1;
    double c0 = now();
    w0 = wall_now();
    double w = w0;
    while (w - w0 < seconds) {
      for (long k = 0; k < batch; k++)
        one(&in, p, NULL);
      iters += batch;
      w = wall_now();
    }
    printf("RESULT %s %ld %.6f %.6f %zu %zu\n", spec, iters, now() - c0, w - w0,
           in.len, out_len);
    fflush(stdout);
    free(in.buf);
  }
  return 0;
}

/* `rss` TYPE PATH [N]: N round trips in this fresh process; the peak RSS
   (VmHWM) before and after, and the size of the last output. */
static int peer_rss(const char *type, const char *path, long n) {
  size_t len, out_len = 0;
  char *buf = read_all(path, &len);
  if (!buf) die(path, "cannot open");
  const oci_type *t = type_by_name(type);
  long before = vm_hwm_kb();
  for (long i = 0; i < n; i++) {
    void *doc;
    char *out;
    oci_error err;
    if (oci_parse(t, buf, len, NULL, &doc, &err) ||
        oci_to_json(t, doc, NULL, &out, &out_len, &err))
      die(path, err.message);
    free(out);
    oci_free(doc);
  }
  printf("RSS %ld %ld %zu\n", before, vm_hwm_kb(), out_len);
  free(buf);
  return 0;
}

static int peer_main(int argc, char **argv) {
  if (argc >= 5 && (!strcmp(argv[2], "run") || !strcmp(argv[2], "parse")))
    return peer_run(!strcmp(argv[2], "run"), atof(argv[3]), argv[4], argc - 5,
                    argv + 5);
  if ((argc == 5 || argc == 6) && !strcmp(argv[2], "rss"))
    return peer_rss(argv[3], argv[4], argc == 6 ? atol(argv[5]) : 1);
  die("--peer", "usage: --peer run|parse SECONDS OUTDIR NAME:TYPE:PATH... | "
                "--peer rss TYPE PATH [N]");
  return 2;
}

/* ---- main ---------------------------------------------------------------- */

static void load(input *in, const char *dir, const char *file,
                 const oci_type *t, bool shared) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  snprintf(in->name, sizeof in->name, "%s", file);
  in->type = t;
  in->shared = shared;
  in->buf = read_all(path, &in->len);
  if (!in->buf) die(path, "cannot open (set OCISPEC_BENCH_INPUTS)");
  oci_error err;
  if (oci_parse(t, in->buf, in->len, NULL, &in->doc, &err))
    die(path, err.message);
  char *out;
  if (oci_to_json(t, in->doc, NULL, &out, &in->out_len, &err))
    die(path, err.message);
  free(out);
}

int main(int argc, char **argv) {
  const char *dir = getenv("OCISPEC_BENCH_INPUTS");
  const char *gen = "bench-generated";
  char def_dir[1024];
  if (argc == 3 && !strcmp(argv[1], "--generate")) {
    generate(argv[2]);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "--rss"))
    return rss_child(argv[2], argv[3]);
  if (argc == 6 && !strcmp(argv[1], "--loop"))
    return loop_main(argv[2], argv[3], argv[4], atol(argv[5]));
  if (argc >= 2 && !strcmp(argv[1], "--peer")) return peer_main(argc, argv);
  const char *quick = getenv("OCISPEC_BENCH_QUICK");
  if (quick && *quick && strcmp(quick, "0")) runs = 3;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--inputs") && i + 1 < argc)
      dir = argv[++i];
    else if (!strcmp(argv[i], "--gen") && i + 1 < argc)
      gen = argv[++i];
    else if (!strcmp(argv[i], "--quick"))
      runs = 3;
    else
      die(argv[i], "usage: bench_codec [--inputs DIR] [--gen DIR] [--quick]");
  }
  if (!dir || !*dir) {
    snprintf(def_dir, sizeof def_dir, "%s/../shared/bench-inputs",
             OCISPEC_SOURCE_DIR);
    dir = def_dir;
  }
  generate(gen);

  input inputs[6];
  memset(inputs, 0, sizeof inputs);
  load(&inputs[0], dir, "image-manifest.json", &oci_type_image_manifest, true);
  load(&inputs[1], dir, "image-index.json", &oci_type_image_index, true);
  load(&inputs[2], dir, "image-config.json", &oci_type_image_configuration,
       true);
  load(&inputs[3], dir, "runtime-config.json", &oci_type_runtime_spec, true);
  load(&inputs[4], gen, "index-10000.json", &oci_type_image_index, false);
  load(&inputs[5], gen, "config-5000.json", &oci_type_image_configuration,
       false);
  size_t ninputs = sizeof inputs / sizeof inputs[0];

  printf("## C codec (median of %d runs; MB/s of the bytes read, serialize: "
         "compact bytes written)\n",
         runs);
#ifndef OCISPEC_HAVE_YAJL
  printf("(built without yajl: no yajl baseline)\n");
#endif
  for (size_t i = 0; i < ninputs; i++) {
    input *in = &inputs[i];
    printf("\n%s: %s, %zu bytes (compact %zu)\n", in->name, in->type->name,
           in->len, in->out_len);
    printf("  %-10s %12s %10s %10s %10s %10s\n", "phase", "docs/s", "MB/s",
           "x check", "x yajl", "x memcpy");
    for (int p = 0; p < NPHASES; p++) {
#ifndef OCISPEC_HAVE_YAJL
      if (p == YAJL) continue;
#endif
      in->rate[p] = median_rate(in, (phase)p);
      size_t bytes = p == SERIALIZE ? in->out_len : in->len;
      in->mbs[p] = in->rate[p] * (double)bytes / 1e6;
    }
    for (int p = 0; p < NPHASES; p++) {
#ifndef OCISPEC_HAVE_YAJL
      if (p == YAJL) continue;
#endif
      printf("  %-10s %12.0f %10.1f %10.2f %10.2f %10.4f\n", phase_names[p],
             in->rate[p], in->mbs[p], in->mbs[p] / in->mbs[CHECK],
             in->mbs[YAJL] > 0 ? in->mbs[p] / in->mbs[YAJL] : 0.0,
             in->mbs[p] / in->mbs[MEMCPY]);
    }
    size_t ab = oci_arena_bytes(((oci_object *)in->doc)->arena);
    size_t au = oci_arena_used(((oci_object *)in->doc)->arena);
    printf("  memory: arena %zu bytes (%zu used) for %zu bytes of JSON: "
           "%.2fx (%.2fx compact)\n",
           ab, au, in->len, (double)ab / (double)in->len,
           (double)ab / (double)in->out_len);
  }

  printf("\n## Targets (shared inputs; ratios from this run)\n");
  printf("  %-22s %9s %9s %9s %9s %9s %7s\n", "input", "parse", "serial.",
         "parse/", "parse/", "rtrip", "arena/");
  printf("  %-22s %9s %9s %9s %9s %9s %7s\n", "", "MB/s", "MB/s", "check",
         "yajl", "MB/s", "JSON");
  double worst_parse = 1e30, worst_ser = 1e30, worst_chk = 1e30, worst_mem = 0;
  for (size_t i = 0; i < ninputs; i++) {
    input *in = &inputs[i];
    double mem = (double)oci_arena_bytes(((oci_object *)in->doc)->arena) /
                 (double)in->len;
    printf("  %-22s %9.0f %9.0f %9.2f %9.2f %9.0f %7.2f\n", in->name,
           in->mbs[PARSE], in->mbs[SERIALIZE], in->mbs[PARSE] / in->mbs[CHECK],
           in->mbs[YAJL] > 0 ? in->mbs[PARSE] / in->mbs[YAJL] : 0.0,
           in->mbs[ROUNDTRIP], mem);
    if (!in->shared) continue;
    if (in->mbs[PARSE] < worst_parse) worst_parse = in->mbs[PARSE];
    if (in->mbs[SERIALIZE] < worst_ser) worst_ser = in->mbs[SERIALIZE];
    if (in->mbs[PARSE] / in->mbs[CHECK] < worst_chk)
      worst_chk = in->mbs[PARSE] / in->mbs[CHECK];
    if (mem > worst_mem) worst_mem = mem;
  }
  printf("  parse >= 1000 MB/s:          worst %.0f MB/s  %s\n", worst_parse,
         worst_parse >= 1000 ? "met" : "NOT met");
  printf("  serialize >= 1500 MB/s:      worst %.0f MB/s  %s\n", worst_ser,
         worst_ser >= 1500 ? "met" : "NOT met");
  printf("  parse within 2x of check:    worst %.2fx of check's speed  %s\n",
         worst_chk, worst_chk >= 0.5 ? "met" : "NOT met");
  printf("  arena <= 1.5x JSON size:     worst %.2fx  %s\n", worst_mem,
         worst_mem <= 1.5 ? "met" : "NOT met");
  printf("  linear cost: parse ns/byte, index 3 manifests %.3f vs 10000 "
         "manifests %.3f (%.2fx); config 50 history %.3f vs 5000 %.3f "
         "(%.2fx)\n",
         1e3 / inputs[1].mbs[PARSE], 1e3 / inputs[4].mbs[PARSE],
         inputs[1].mbs[PARSE] / inputs[4].mbs[PARSE],
         1e3 / inputs[2].mbs[PARSE], 1e3 / inputs[5].mbs[PARSE],
         inputs[2].mbs[PARSE] / inputs[5].mbs[PARSE]);
  printf("  linear cost: serialize ns/byte, index 3 %.3f vs 10000 %.3f; "
         "config 50 %.3f vs 5000 %.3f\n",
         1e3 / inputs[1].mbs[SERIALIZE], 1e3 / inputs[4].mbs[SERIALIZE],
         1e3 / inputs[2].mbs[SERIALIZE], 1e3 / inputs[5].mbs[SERIALIZE]);

  char path[1100], self[1024];
  snprintf(path, sizeof path, "%s/index-10000.json", gen);
  ssize_t sn = readlink("/proc/self/exe", self, sizeof self - 1);
  snprintf(self + (sn > 0 ? sn : 0), sizeof self - (size_t)(sn > 0 ? sn : 0),
           "%s", sn > 0 ? "" : argv[0]);
  printf("\n");
  peak_rss(self, path, "index");

  for (size_t i = 0; i < ninputs; i++) {
    oci_free(inputs[i].doc);
    free(inputs[i].buf);
  }
  return 0;
}
