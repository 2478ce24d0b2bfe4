/* Replays inputs through a libFuzzer target's LLVMFuzzerTestOneInput
   without libFuzzer, so that the persisted corpus (fuzz/corpus/<target>/)
   and every past crash input (fuzz/regressions/<target>/) run in the
   normal ctest under gcc, valgrind or ASan (CMakeLists.txt builds one
   fuzz_replay_<target> per fuzz/<target>.c with this main()).

     fuzz_replay_<target> FILE-OR-DIR...

   A directory stands for its regular files (sorted, not recursive). A
   target's property check aborts, which fails the run; so does an empty
   argument list or a directory without a file (nothing replayed is not a
   pass). Prints "<n> inputs replayed" and exits 0. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* defined by some targets only */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static size_t replayed;

static void replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
    exit(2);
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (!buf) {
      fprintf(stderr, "fuzz_replay: out of memory reading %s\n", path);
      exit(2);
    }
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    uint8_t *nb = realloc(buf, cap *= 2);
    if (!nb) free(buf);
    buf = nb;
  }
  if (ferror(f)) {
    fprintf(stderr, "fuzz_replay: cannot read %s\n", path);
    exit(2);
  }
  fclose(f);
  /* an exact-size copy, so that reads past the input are caught by ASan
     and valgrind as they would be under libFuzzer */
  uint8_t *in = malloc(n ? n : 1);
  if (!in) {
    fprintf(stderr, "fuzz_replay: out of memory\n");
    exit(2);
  }
  memcpy(in, buf, n);
  free(buf);
  fprintf(stderr, "fuzz_replay: %s (%zu bytes)\n", path, n);
  LLVMFuzzerTestOneInput(in, n);
  free(in);
  replayed++;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_dir(const char *dir) {
  DIR *dh = opendir(dir);
  if (!dh) {
    fprintf(stderr, "fuzz_replay: cannot open directory %s\n", dir);
    exit(2);
  }
  char **names = NULL;
  size_t len = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(dh))) {
    if (de->d_name[0] == '.') continue;
    if (len == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof *names);
      if (!nn) exit(2);
      names = nn;
    }
    size_t sz = strlen(dir) + strlen(de->d_name) + 2;
    if (!(names[len] = malloc(sz))) exit(2);
    snprintf(names[len++], sz, "%s/%s", dir, de->d_name);
  }
  closedir(dh);
  if (len) qsort(names, len, sizeof *names, by_name);
  size_t files = 0;
  for (size_t i = 0; i < len; i++) {
    struct stat st;
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
      replay_file(names[i]);
      files++;
    }
    free(names[i]);
  }
  free(names);
  if (!files) {
    fprintf(stderr, "fuzz_replay: %s holds no input\n", dir);
    exit(2);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "fuzz_replay: %s does not exist\n", argv[i]);
      return 2;
    }
    if (S_ISDIR(st.st_mode))
      replay_dir(argv[i]);
    else
      replay_file(argv[i]);
  }
  printf("fuzz_replay: %zu inputs replayed\n", replayed);
  return 0;
}
