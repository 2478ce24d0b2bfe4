/* JSONTestSuite (nst/JSONTestSuite) against ocispec's JSON reader, through
   oci_json_check (structure only, RFC 8259):
     y_*  MUST be accepted, except y_object_duplicated_key*.json, which
          ocispec rejects by default (DESIGN.md invariant 7) with
          OCI_EDUPKEY and accepts with allow_duplicate_keys;
     n_*  MUST be rejected with a message and a line number;
     i_*  either, but each file's verdict is pinned to the choice the
          docs/validation.md documents ("JSON choices"): the table
          `implementation` below; an i_ file missing from it, or a
          different verdict or error code, fails;
   then every test_transform file is read without crashing (the outcome is
   printed). Prints "N passed, M failed"; exit 0 when M is 0, 1 otherwise,
   77 (skipped) when the conformance folder is missing. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ocispec/schema.h"

static size_t passed, failed;

static void check(int ok, const char *file, const char *fmt, ...)
    OCI_PRINTF(3, 4);
static void check(int ok, const char *file, const char *fmt, ...) {
  va_list ap;
  if (ok) {
    passed++;
    return;
  }
  failed++;
  printf("FAIL %s: ", file);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
}

/* docs/validation.md, "JSON choices (JSONTestSuite i_ files)": "accepted",
   or the status name (oci_status_name) of the rejection. */
static const struct {
  const char *file, *verdict;
} implementation[] = {
    /* numbers beyond any integer type: accepted, kept exactly */
    {"i_number_double_huge_neg_exp.json", "accepted"},
    {"i_number_huge_exp.json", "accepted"},
    {"i_number_neg_int_huge_exp.json", "accepted"},
    {"i_number_pos_double_huge_exp.json", "accepted"},
    {"i_number_real_neg_overflow.json", "accepted"},
    {"i_number_real_pos_overflow.json", "accepted"},
    {"i_number_real_underflow.json", "accepted"},
    {"i_number_too_big_neg_int.json", "accepted"},
    {"i_number_too_big_pos_int.json", "accepted"},
    {"i_number_very_big_negative_int.json", "accepted"},
    /* lone or inverted surrogates, invalid UTF-8: a utf8 error */
    {"i_object_key_lone_2nd_surrogate.json", "utf8"},
    {"i_string_1st_surrogate_but_2nd_missing.json", "utf8"},
    {"i_string_1st_valid_surrogate_2nd_invalid.json", "utf8"},
    {"i_string_UTF-8_invalid_sequence.json", "utf8"},
    {"i_string_UTF8_surrogate_U+D800.json", "utf8"},
    {"i_string_incomplete_surrogate_and_escape_valid.json", "utf8"},
    {"i_string_incomplete_surrogate_pair.json", "utf8"},
    {"i_string_incomplete_surrogates_escape_valid.json", "utf8"},
    {"i_string_invalid_lonely_surrogate.json", "utf8"},
    {"i_string_invalid_surrogate.json", "utf8"},
    {"i_string_invalid_utf-8.json", "utf8"},
    {"i_string_inverted_surrogates_U+1D11E.json", "utf8"},
    {"i_string_iso_latin_1.json", "utf8"},
    {"i_string_lone_second_surrogate.json", "utf8"},
    {"i_string_lone_utf8_continuation_byte.json", "utf8"},
    {"i_string_not_in_unicode_range.json", "utf8"},
    {"i_string_overlong_sequence_2_bytes.json", "utf8"},
    {"i_string_overlong_sequence_6_bytes.json", "utf8"},
    {"i_string_overlong_sequence_6_bytes_null.json", "utf8"},
    {"i_string_truncated-utf-8.json", "utf8"},
    /* byte order marks and UTF-16 input: RFC 8259 8.1 */
    {"i_string_UTF-16LE_with_BOM.json", "syntax"},
    {"i_string_utf16BE_no_BOM.json", "syntax"},
    {"i_string_utf16LE_no_BOM.json", "syntax"},
    {"i_structure_UTF-8_BOM_empty_object.json", "syntax"},
    /* deeper than max_depth (256) */
    {"i_structure_500_nested_arrays.json", "depth"},
};

static const char *documented_verdict(const char *name) {
  for (size_t i = 0; i < sizeof implementation / sizeof implementation[0]; i++)
    if (!strcmp(implementation[i].file, name)) return implementation[i].verdict;
  return NULL;
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

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long size;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
      fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) != NULL) {
    *len = fread(buf, 1, (size_t)size, f);
    if (*len != (size_t)size) {
      free(buf);
      buf = NULL;
    }
  }
  fclose(f);
  return buf;
}

static int json_file(const struct dirent *d) {
  size_t n = strlen(d->d_name);
  return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static void run_parsing(const char *dir) {
  struct dirent **list;
  int n = scandir(dir, &list, json_file, alphasort);
  oci_parse_options lenient = OCI_PARSE_OPTIONS_INIT;
  lenient.allow_duplicate_keys = true;
  size_t counts[3] = {0, 0, 0};
  if (n < 0) {
    check(0, dir, "cannot list %s", dir);
    return;
  }
  for (int i = 0; i < n; i++) {
    const char *name = list[i]->d_name;
    char path[4096];
    size_t len = 0;
    oci_error err;
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    char *buf =
        w >= 0 && (size_t)w < sizeof path ? read_file(path, &len) : NULL;
    if (!buf) {
      check(0, name, "cannot read %s", path);
      free(list[i]);
      continue;
    }
    oci_error_clear(&err);
    int rc = oci_json_check(buf, len, NULL, &err);
    if (name[0] == 'y') {
      counts[0]++;
      if (strncmp(name, "y_object_duplicated_key", 23) == 0) {
        check(rc == OCI_EDUPKEY && strstr(err.message, "duplicate key"), name,
              "expected a duplicate-key error by default, got \"%s\"",
              err.message);
        rc = oci_json_check(buf, len, &lenient, &err);
        check(rc == OCI_OK, name, "rejected with allow_duplicate_keys: %s",
              err.message);
      } else {
        check(rc == OCI_OK, name, "rejected: %s (%s)", err.message,
              oci_status_name(rc));
      }
    } else if (name[0] == 'n') {
      counts[1]++;
      check(rc != OCI_OK && err.code == rc && err.message[0] != '\0' &&
                err.line > 0 && err.column > 0,
            name, "accepted, or rejected without message/line: \"%s\"",
            err.message);
    } else if (name[0] == 'i') {
      counts[2]++;
      const char *want = documented_verdict(name);
      const char *got = rc == OCI_OK ? "accepted" : oci_status_name(rc);
      if (rc == OCI_OK)
        printf("i  %-50s accepted\n", name);
      else
        printf("i  %-50s rejected (%s: %s)\n", name, got, err.message);
      check(want != NULL, name,
            "an i_ file the JSON choices of docs/validation.md do not cover: "
            "document its verdict (%s) and add it to `implementation`",
            got);
      if (want)
        check(!strcmp(want, got), name,
              "docs/validation.md documents %s, got %s (%s)", want, got,
              rc == OCI_OK ? "" : err.message);
      if (want && rc != OCI_OK)
        check(err.message[0] != '\0' && err.line > 0, name,
              "rejected without a message or line");
    }
    free(buf);
    free(list[i]);
  }
  free(list);
  printf("test_parsing: %zu y_, %zu n_, %zu i_ files\n", counts[0], counts[1],
         counts[2]);
  check(counts[0] > 90 && counts[1] > 180, dir, "too few test files in %s",
        dir);
  check(counts[2] == sizeof implementation / sizeof implementation[0], dir,
        "%zu i_ files, %zu documented", counts[2],
        sizeof implementation / sizeof implementation[0]);
}

static void run_transform(const char *dir) {
  struct dirent **list;
  int n = scandir(dir, &list, json_file, alphasort);
  if (n < 0) {
    check(0, dir, "cannot list %s", dir);
    return;
  }
  for (int i = 0; i < n; i++) {
    char path[4096];
    size_t len = 0;
    oci_error err;
    int w = snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
    char *buf =
        w >= 0 && (size_t)w < sizeof path ? read_file(path, &len) : NULL;
    if (!buf) {
      check(0, list[i]->d_name, "cannot read %s", path);
    } else {
      int rc = oci_json_check(buf, len, NULL, &err);
      printf("t  %-50s %s%s%s\n", list[i]->d_name,
             rc ? oci_status_name(rc) : "accepted", rc ? ": " : "",
             rc ? err.message : "");
      passed++;
    }
    free(buf);
    free(list[i]);
  }
  free(list);
}

int main(void) {
  char buf[4096], dir[8192];
  const char *conf = conformance_dir(buf, sizeof buf);
  if (!conf) {
    printf("SKIP: conformance folder not found (set OCISPEC_CONFORMANCE)\n");
    return 77;
  }
  snprintf(dir, sizeof dir, "%s/json/test_parsing", conf);
  run_parsing(dir);
  snprintf(dir, sizeof dir, "%s/json/test_transform", conf);
  run_transform(dir);
  printf("%zu passed, %zu failed\n", passed, failed);
  return failed ? 1 : 0;
}
