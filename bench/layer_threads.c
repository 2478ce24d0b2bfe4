/* Where a layer build's CPU goes, thread by thread: oci_layer_build of
   generated content (semi-compressible, in memory: no file reading) with
   gzip -6 and zstd -3 at threads 0, 1 and 2, while this program samples
   /proc/self/task every few milliseconds for each thread's CPU time. On
   a shared machine wall-clock time says little; the busiest thread's CPU
   does not depend on the load, and max(busiest, total / cores) is the
   wall-clock time the build needs on that many free cores. Then the CPU
   time of `gzip -6`, `zstd -3 --single-thread` and `zstd -3` compressing
   the same tar, against threads=0's bound: the pipelines' goals measured
   in CPU, which a loaded machine moves far less than wall time. Figures,
   never pass/fail.

   usage: bench_layer_threads   ($OCISPEC_BENCH_MB MiB, default 64) */
#define _GNU_SOURCE
#include <ocispec/config.h>
#include <stdio.h>
#ifndef OCI_WITH_IMAGE
int main(void) {
  puts("bench_layer_threads: ocispec was built without OCISPEC_WITH_IMAGE");
  return 0;
}
#else
#include <dirent.h>
#include <fcntl.h>
#include <ocispec/layer.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_TASKS 128

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* words and random runs, about what deflate takes to 60% */
static unsigned char *gen(size_t n) {
  unsigned char *b = malloc(n);
  if (!b) exit(1);
  uint32_t x = 1;
#define NEXT() (x = x * 1103515245u + 12345u, x >> 16)
  size_t i = 0;
  while (i < n) {
    unsigned r = NEXT();
    if (r % 8 == 0)
      for (int k = 0; k < 24 && i < n; k++)
        b[i++] = (unsigned char)NEXT();
    else {
      unsigned len = 2 + r % 7, w = NEXT() % 64;
      for (unsigned k = 0; k < len && i < n; k++)
        b[i++] = (unsigned char)('a' + (w * 7 + k * 3) % 26);
      if (i < n) b[i++] = ' ';
    }
  }
#undef NEXT
  return b;
}

typedef struct job {
  oci_layer_source src;
  oci_layer_options o;
  volatile int done;
  int rc;
  pid_t tid;
} job;

static void *run(void *arg) {
  job *j = arg;
  j->tid = gettid();
  int fd = open("/dev/null", O_WRONLY);
  oci_layer_result r;
  oci_error err;
  j->rc = oci_layer_build(&j->src, &j->o, fd, &r, &err);
  if (j->rc) fprintf(stderr, "build: %s\n", err.message);
  close(fd);
  j->done = 1;
  return NULL;
}

static struct {
  pid_t tid;
  long ticks;
} seen[MAX_TASKS];
static int n_seen;

static void sample(pid_t self) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *de;
  while (d && (de = readdir(d))) {
    pid_t tid = atoi(de->d_name);
    if (tid <= 0 || tid == self) continue;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* fields after the command name */
    long ut = 0, st = 0;
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
               &ut, &st) != 2)
      continue;
    int k = 0;
    while (k < n_seen && seen[k].tid != tid)
      k++;
    if (k == n_seen) {
      if (n_seen == MAX_TASKS) continue;
      seen[n_seen].tid = tid;
      n_seen++;
    }
    seen[k].ticks = ut + st;
  }
  if (d) closedir(d);
}

/* CPU seconds (user + system) of `cmd` run by the shell. */
static double child_cpu(const char *cmd) {
  struct rusage a, b;
  getrusage(RUSAGE_CHILDREN, &a);
  if (system(cmd) != 0) {
    fprintf(stderr, "failed: %s\n", cmd);
    exit(1);
  }
  getrusage(RUSAGE_CHILDREN, &b);
  return (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec) +
         (b.ru_utime.tv_usec - a.ru_utime.tv_usec) / 1e6 +
         (double)(b.ru_stime.tv_sec - a.ru_stime.tv_sec) +
         (b.ru_stime.tv_usec - a.ru_stime.tv_usec) / 1e6;
}

int main(void) {
  const char *mb_env = getenv("OCISPEC_BENCH_MB");
  size_t mb = mb_env ? (size_t)atoi(mb_env) : 64;
  size_t len = mb << 20;
  unsigned char *data = gen(len);
  oci_layer_entry e[8];
  memset(e, 0, sizeof e);
  size_t per = len / 8;
  char names[8][16];
  for (int i = 0; i < 8; i++) {
    snprintf(names[i], sizeof names[i], "f%d", i);
    e[i] = (oci_layer_entry){.path = names[i],
                             .type = OCI_LAYER_FILE,
                             .mode = -1,
                             .uid = -1,
                             .gid = -1,
                             .has_mtime = 1,
                             .content = data + i * per,
                             .content_len = per};
  }
  double hz = (double)sysconf(_SC_CLK_TCK);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  FILE *la = fopen("/proc/loadavg", "r");
  char load[128] = "";
  if (la) {
    if (!fgets(load, sizeof load, la)) load[0] = '\0';
    fclose(la);
  }
  printf("layer threads bench: %zu MiB in memory, %ld cores, load average %s",
         mb, cores, load);
  printf("  %-16s %8s %8s %8s %8s %10s\n", "", "wall s", "CPU s", "busiest",
         "threads", "bound s");
  /* the same tar for the tools: their CPU is the bound of the pipeline
     (tar's own process is not counted; gzip and zstd --single-thread
     are one thread, the zstd tool's default -T1 is a reading thread and
     one compressing worker, so its CPU is more than its bound) */
  char tar[] = "/tmp/ocispec-bench-layer-threads.XXXXXX";
  int tfd = mkstemp(tar);
  if (tfd < 0) return 1;
  {
    oci_layer_source src = {.entries = e, .n_entries = 8};
    oci_layer_options o;
    oci_layer_options_init(&o);
    o.compression = OCI_LAYER_NONE;
    oci_layer_result r;
    oci_error err;
    if (oci_layer_build(&src, &o, tfd, &r, &err)) return 1;
    close(tfd);
  }
  static const char *const tools[2][2] = {
      {"gzip -6", NULL}, {"zstd -3 -q --single-thread", "zstd -3 -q"}};
  for (int c = 0; c < 2; c++) {
    double bound0 = 0;
    for (int t = 0; t <= 2; t++) {
      job j = {.src = {.entries = e, .n_entries = 8}};
      oci_layer_options_init(&j.o);
      j.o.compression = c ? OCI_LAYER_ZSTD : OCI_LAYER_GZIP;
      j.o.threads = t;
      n_seen = 0;
      pid_t self = gettid();
      pthread_t th;
      double s = now();
      pthread_create(&th, NULL, run, &j);
      while (!j.done) {
        sample(self);
        usleep(2000);
      }
      pthread_join(th, NULL);
      double wall = now() - s;
      if (j.rc) return 1;
      long total = 0, busiest = 0;
      for (int k = 0; k < n_seen; k++) {
        total += seen[k].ticks;
        if (seen[k].ticks > busiest) busiest = seen[k].ticks;
      }
      double tot = total / hz, big = busiest / hz;
      /* the time this build needs on `cores` free cores, at best */
      double bound = big > tot / cores ? big : tot / cores;
      if (t == 0) bound0 = bound;
      printf("  %s threads=%d %8.2f %8.2f %8.2f %8d %10.2f",
             c ? "zstd" : "gzip", t, wall, tot, big, n_seen, bound);
      if (t) printf("   %.2fx threads=0's bound", bound0 / bound);
      printf("\n");
    }
    for (int k = 0; k < 2 && tools[c][k]; k++) {
      char cmd[512];
      snprintf(cmd, sizeof cmd, "%s < '%s' > /dev/null", tools[c][k], tar);
      double cpu = child_cpu(cmd);
      printf("  %-28s CPU %6.2f s, %.2fx threads=0's bound\n", tools[c][k], cpu,
             cpu / bound0);
    }
  }
  unlink(tar);
  free(data);
  return 0;
}
#endif
