/* Codec speed on the shared bench inputs: parse, validate, serialize and
   round trip, in MB/s and docs/s (median of several runs), next to two
   baselines measured in the same run: our structure-only JSON pass (the
   floor for parsing) and memcpy of the same bytes. Figures, never
   pass/fail.

   usage: bench_codec [bench-inputs dir] (default ../shared/bench-inputs) */
#include <ocispec/ocispec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 7

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct input {
  const char *file;
  const oci_type *type;
  char *buf;
  size_t len;
  void *doc;
} input;

typedef enum { PARSE, CHECK, VALIDATE, WRITE, ROUNDTRIP, MEMCPY } phase;

static volatile size_t sink;

/* One pass of `iters` operations of phase p; returns seconds. */
static double run(input *in, phase p, size_t iters) {
  char *copy = p == MEMCPY ? malloc(in->len) : NULL;
  double t0 = now();
  for (size_t i = 0; i < iters; i++) {
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
    case VALIDATE:
      oci_validate(in->type, in->doc, &pr);
      sink += pr.len;
      oci_problems_free(&pr);
      break;
    case WRITE:
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
      memcpy(copy, in->buf, in->len);
      sink += (size_t)copy[i % in->len];
      break;
    }
  }
  double t = now() - t0;
  free(copy);
  return t;
}

static double median_rate(input *in, phase p, size_t iters) {
  double r[RUNS];
  for (int k = 0; k < RUNS; k++)
    r[k] = (double)iters / run(in, p, iters);
  qsort(r, RUNS, sizeof r[0], cmp_double);
  return r[RUNS / 2];
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "../shared/bench-inputs";
  input inputs[] = {
      {"image-manifest.json", &oci_type_image_manifest, NULL, 0, NULL},
      {"image-index.json", &oci_type_image_index, NULL, 0, NULL},
      {"image-config.json", &oci_type_image_configuration, NULL, 0, NULL},
  };
  static const char *names[] = {"parse",     "check",     "validate",
                                "serialize", "roundtrip", "memcpy"};
  printf("%-22s %-10s %12s %10s %10s\n", "input", "phase", "docs/s", "MB/s",
         "x check");
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    input *in = &inputs[i];
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, in->file);
    FILE *f = fopen(path, "rb");
    if (!f) {
      fprintf(stderr, "bench_codec: cannot open %s\n", path);
      return 2;
    }
    fseek(f, 0, SEEK_END);
    in->len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    in->buf = malloc(in->len);
    if (fread(in->buf, 1, in->len, f) != in->len) return 2;
    fclose(f);
    oci_error err;
    if (oci_parse(in->type, in->buf, in->len, NULL, &in->doc, &err)) {
      fprintf(stderr, "%s: %s\n", path, err.message);
      return 2;
    }
    size_t iters = 20000000 / in->len + 1;
    double check = median_rate(in, CHECK, iters);
    for (phase p = PARSE; p <= MEMCPY; p++) {
      double rate = p == CHECK ? check : median_rate(in, p, iters);
      printf("%-22s %-10s %12.0f %10.1f %10.2f\n", in->file, names[p], rate,
             rate * (double)in->len / 1e6, rate / check);
    }
    printf("%-22s arena %zu bytes for %zu bytes of JSON (%.2fx)\n", in->file,
           oci_arena_bytes(((oci_object *)in->doc)->arena), in->len,
           (double)oci_arena_bytes(((oci_object *)in->doc)->arena) /
               (double)in->len);
    oci_free(in->doc);
    free(in->buf);
  }
  return 0;
}
