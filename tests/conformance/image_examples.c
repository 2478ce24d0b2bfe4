/* The example documents of the specs against ocispec's types:
   - every .json file of image/examples, parsed as the type its INDEX.tsv `kind`
     names, round-trips (parse(to_json(x)) equals x, and writing that gives
     the same bytes, pretty and compact; Python's json reads the file and our
     output as the same value) and validates with no error (the
     README says they are all valid);
   - distribution/derived/error-response.<CODE>.json as ErrorResponse:
     round trip, no error;
   - distribution/spec-examples/spec.02.listing-tags.json as TagList: round
     trip; its "<name>" and "<tagN>" are the spec's placeholders, so exactly
     D-NAME-1 on /name and D-TAG-1 on each tag are expected.
   Prints "N passed, M failed"; exit 0 when M is 0, 1 otherwise, 77
   (skipped) when the conformance folder is missing. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocispec/types.h"

static size_t passed, failed;

static bool check(bool ok, const char *file, const char *fmt, ...)
    OCI_PRINTF(3, 4);
static bool check(bool ok, const char *file, const char *fmt, ...) {
  va_list ap;
  if (ok) return true;
  printf("FAIL %s: ", file);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  return false;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* $OCISPEC_CONFORMANCE, else $OCISPEC_SOURCE_DIR/../shared/conformance. */
static const char *conformance_dir(char *buf, size_t n) {
  const char *c = getenv("OCISPEC_CONFORMANCE");
  const char *src = getenv("OCISPEC_SOURCE_DIR");
  if (c && *c) return is_dir(c) ? c : NULL;
#ifdef OCISPEC_SOURCE_DIR
  if (!src || !*src) src = OCISPEC_SOURCE_DIR;
#endif
  if (!src || !*src) return NULL;
  snprintf(buf, n, "%s/../shared/conformance", src);
  return is_dir(buf) ? buf : NULL;
}

/* Expected problems of one document (all errors). */
typedef struct expected {
  const char *rule, *pointer;
} expected;

/* The independent oracle: Python's json module decodes the file `path` and
   `text` (our output) to the same JSON value
   (tests/conformance/json_same.py). */
static bool python_agrees(const char *path, const char *text, size_t n,
                          const char *name) {
  char tmp[] = "/tmp/ocispec-image-examples-XXXXXX", cmd[8192], out[2048];
  int fd = mkstemp(tmp);
  if (!check(fd >= 0, name, "mkstemp failed")) return false;
  FILE *f = fdopen(fd, "wb");
  bool wrote = f && fwrite(text, 1, n, f) == n;
  if (f) wrote &= fclose(f) == 0;
  if (!check(wrote, name, "cannot write %s", tmp)) {
    unlink(tmp);
    return false;
  }
  snprintf(cmd, sizeof cmd,
           "python3 '%s/tests/conformance/json_same.py' '%s' '%s' 2>&1",
           OCISPEC_SOURCE_DIR, path, tmp);
  FILE *p = popen(cmd, "r");
  size_t got = p ? fread(out, 1, sizeof out - 1, p) : 0;
  out[got] = '\0';
  int status = p ? pclose(p) : -1;
  unlink(tmp);
  return check(status == 0, name, "Python's json reads another value: %s", out);
}

/* Parse, round-trip and validate one file; `want` lists the expected
   errors (NULL-terminated; NULL for none). Counts one pass or one fail. */
static void run_file(const oci_type *t, const char *path, const char *name,
                     const expected *want) {
  void *a = NULL, *b = NULL;
  oci_error err;
  oci_problems p = {0};
  bool ok = true;
  if (oci_parse_file(t, path, NULL, &a, &err) != OCI_OK) {
    check(false, name, "parse as %s: %s at \"%s\" %zu:%zu", t->c_name,
          err.message, err.pointer, err.line, err.column);
    failed++;
    return;
  }
  for (int pretty = 0; pretty < 2 && ok; pretty++) {
    oci_write_options w = {OCI_WRITE_OPTIONS_VERSION, pretty};
    char *o1 = NULL, *o2 = NULL;
    size_t n1 = 0, n2 = 0;
    ok = check(oci_to_json(t, a, &w, &o1, &n1, &err) == OCI_OK, name,
               "to_json: %s", err.message) &&
         python_agrees(path, o1, n1, name) &&
         check(oci_parse(t, o1, n1, NULL, &b, &err) == OCI_OK, name,
               "re-parse of our output: %s", err.message) &&
         check(oci_equal(t, a, b), name, "round trip changed the value") &&
         check(oci_to_json(t, b, &w, &o2, &n2, &err) == OCI_OK, name,
               "to_json: %s", err.message) &&
         check(n1 == n2 && strcmp(o1, o2) == 0, name,
               "second serialization differs:\n%s\n%s", o1, o2 ? o2 : "");
    free(o1);
    free(o2);
    oci_free(b);
    b = NULL;
  }
  if (ok) {
    int rc = oci_validate(t, a, &p);
    size_t nwant = 0;
    while (want && want[nwant].rule)
      nwant++;
    ok = check(rc != OCI_ENOMEM, name, "out of memory") &&
         check(p.errors == nwant, name, "%zu errors, expected %zu", p.errors,
               nwant);
    for (size_t i = 0; i < p.len; i++) {
      const oci_problem *q = &p.items[i];
      bool expect = false;
      for (size_t k = 0; k < nwant; k++)
        expect |= !strcmp(q->rule, want[k].rule) &&
                  !strcmp(q->pointer, want[k].pointer);
      printf("   %s %s %s %s: %s\n", name,
             q->severity == OCI_SEV_ERROR ? "error" : "warning", q->rule,
             q->pointer, q->message);
      if (q->severity == OCI_SEV_ERROR)
        ok &= check(expect, name, "unexpected error %s at %s", q->rule,
                    q->pointer);
    }
    oci_problems_free(&p);
  }
  printf("%s %s (%s)\n", ok ? "ok  " : "FAIL", name, t->c_name);
  if (ok)
    passed++;
  else
    failed++;
  oci_free(a);
}

static const oci_type *type_of_kind(const char *kind) {
  static const struct {
    const char *kind;
    const oci_type *t;
  } kinds[] = {
      {"config", &oci_type_image_configuration},
      {"descriptor", &oci_type_image_descriptor},
      {"index", &oci_type_image_index},
      {"layout", &oci_type_image_oci_layout},
      {"manifest", &oci_type_image_manifest},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (!strcmp(kinds[i].kind, kind)) return kinds[i].t;
  return NULL;
}

static void run_image_examples(const char *conf) {
  char path[8192], file[512], kind[64], line[2048];
  size_t n = 0;
  snprintf(path, sizeof path, "%s/image/examples/INDEX.tsv", conf);
  FILE *f = fopen(path, "r");
  if (!check(f != NULL, path, "cannot open")) {
    failed++;
    return;
  }
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%511[^\t]\t%63[^\t\n]", file, kind) != 2) continue;
    if (!strcmp(file, "file")) continue; /* the header */
    const oci_type *t = type_of_kind(kind);
    if (!check(t != NULL, file, "INDEX.tsv: unknown kind \"%s\"", kind)) {
      failed++;
      continue;
    }
    snprintf(path, sizeof path, "%s/image/examples/%s", conf, file);
    run_file(t, path, file, NULL);
    n++;
  }
  fclose(f);
  /* 13 documents at the snapshot README.md names */
  if (!check(n >= 13, "image/examples", "only %zu documents in INDEX.tsv", n))
    failed++;
}

static int error_response(const struct dirent *d) {
  size_t n = strlen(d->d_name);
  return strncmp(d->d_name, "error-response.", 15) == 0 && n > 20 &&
         strcmp(d->d_name + n - 5, ".json") == 0;
}

static void run_distribution(const char *conf) {
  char dir[4096], path[8192];
  struct dirent **list;
  int w = snprintf(dir, sizeof dir, "%s/distribution/derived", conf);
  if (w < 0 || (size_t)w >= sizeof dir) {
    check(0, conf, "path too long");
    return;
  }
  int n = scandir(dir, &list, error_response, alphasort);
  if (!check(n >= 14, dir, "expected the 14 error-response files, got %d", n)) {
    failed++;
  }
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
    run_file(&oci_type_dist_error_response, path, list[i]->d_name, NULL);
    free(list[i]);
  }
  if (n >= 0) free(list);

  static const expected placeholders[] = {{"D-NAME-1", "/name"},
                                          {"D-TAG-1", "/tags/0"},
                                          {"D-TAG-1", "/tags/1"},
                                          {"D-TAG-1", "/tags/2"},
                                          {NULL, NULL}};
  snprintf(path, sizeof path,
           "%s/distribution/spec-examples/spec.02.listing-tags.json", conf);
  run_file(&oci_type_dist_tag_list, path, "spec.02.listing-tags.json",
           placeholders);
}

int main(void) {
  char buf[4096];
  const char *conf = conformance_dir(buf, sizeof buf);
  if (!conf) {
    printf("SKIP: conformance folder not found (set OCISPEC_CONFORMANCE)\n");
    return 77;
  }
  run_image_examples(conf);
  run_distribution(conf);
  printf("%zu passed, %zu failed\n", passed, failed);
  return failed ? 1 : 0;
}
