/* Running build steps: spawning the OCI runtime (argv, no shell), the
   overlay mount of a step and its upper directory turned into a layer
   changeset (reference/formats.md "RUN steps"). */
#define _GNU_SOURCE
#include "ocispec/run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "owner_read.h"

void oci_run_options_init(oci_run_options *o) {
  *o = (oci_run_options)OCI_RUN_OPTIONS_INIT;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void keep_tail(oci_run_result *r, const char *d, size_t n) {
  if (n >= OCI_RUN_STDERR_TAIL) {
    memcpy(r->stderr_tail, d + n - OCI_RUN_STDERR_TAIL, OCI_RUN_STDERR_TAIL);
    r->tail_len = OCI_RUN_STDERR_TAIL;
  } else {
    size_t keep = r->tail_len + n > OCI_RUN_STDERR_TAIL
                      ? OCI_RUN_STDERR_TAIL - n
                      : r->tail_len;
    memmove(r->stderr_tail, r->stderr_tail + r->tail_len - keep, keep);
    memcpy(r->stderr_tail + keep, d, n);
    r->tail_len = keep + n;
  }
  r->stderr_tail[r->tail_len] = '\0';
}

/* The child: never returns. Writes errno to efd when exec fails. */
static void child(const char *const *argv, const char *cwd, int out, int errfd,
                  int efd, const sigset_t *mask) {
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  setpgid(0, 0);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, mask, NULL);
  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 ||
      dup2(errfd, 2) < 0 || (cwd && chdir(cwd) != 0))
    goto fail;
  execvp(argv[0], (char *const *)argv);
fail:;
  int e = errno;
  ssize_t w = write(efd, &e, sizeof e);
  (void)w;
  _exit(127);
}

/* A started child and what its pipes have said so far. */
struct oci_run_proc {
  pid_t pid;
  int fds[2];      /* stdout, stderr read ends; -1 once closed */
  double deadline; /* 0: none */
  bool done;       /* both pipes closed, or killed */
  oci_run_options o;
  oci_run_result r;
};

/* The signals oci_run_process waits for (blocked while it waits). */
static void wait_signals(sigset_t *s) {
  sigemptyset(s);
  sigaddset(s, SIGINT);
  sigaddset(s, SIGTERM);
  sigaddset(s, SIGHUP);
  sigaddset(s, SIGQUIT);
}

/* Starts argv with child_mask as the child's signal mask. */
static int start(const char *const *argv, const oci_run_options *o,
                 const sigset_t *child_mask, oci_run_proc **out,
                 oci_error *err) {
  oci_run_options def = OCI_RUN_OPTIONS_INIT;
  if (!o) o = &def;
  *out = NULL;
  if (!argv || !argv[0] || !argv[0][0])
    return oci_error_set(err, OCI_EINVAL, "run: an empty argv");
  oci_run_proc *p = calloc(1, sizeof *p);
  if (!p) return oci_error_set(err, OCI_ENOMEM, "out of memory");
  int po[2] = {-1, -1}, pe[2] = {-1, -1}, px[2] = {-1, -1};
  if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC) || pipe2(px, O_CLOEXEC)) {
    int e = errno;
    for (int i = 0; i < 2; i++) {
      if (po[i] >= 0) close(po[i]);
      if (pe[i] >= 0) close(pe[i]);
      if (px[i] >= 0) close(px[i]);
    }
    free(p);
    return oci_error_set(err, OCI_EIO, "run: pipe: %s", strerror(e));
  }
  pid_t pid = fork();
  if (pid == 0) child(argv, o->cwd, po[1], pe[1], px[1], child_mask);
  int fork_errno = errno;
  close(po[1]);
  close(pe[1]);
  close(px[1]);
  if (pid < 0) {
    close(po[0]);
    close(pe[0]);
    close(px[0]);
    free(p);
    return oci_error_set(err, OCI_EIO, "run: fork: %s", strerror(fork_errno));
  }
  setpgid(pid, pid); /* also here: no race with kill(-pid) below */
  p->pid = pid;
  p->fds[0] = po[0];
  p->fds[1] = pe[0];
  p->o = *o;
  p->deadline = o->timeout > 0 ? now() + o->timeout : 0;
  *out = p;
  int exec_errno = 0;
  ssize_t xn = read(px[0], &exec_errno, sizeof exec_errno);
  close(px[0]);
  if (xn == (ssize_t)sizeof exec_errno)
    return oci_error_set(err, OCI_EIO, "run: cannot start %s: %s", argv[0],
                         strerror(exec_errno));
  return OCI_OK;
}

/* Kills p's group (once). */
static void kill_proc(oci_run_proc *p) {
  if (p->done) return;
  kill(-p->pid, SIGKILL);
  kill(p->pid, SIGKILL);
  p->done = true;
}

/* Closes p's pipes, reaps the child, fills *r and frees p. */
static void reap(oci_run_proc *p, oci_run_result *r) {
  for (int i = 0; i < 2; i++)
    if (p->fds[i] >= 0) close(p->fds[i]);
  int status = 0;
  while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED(status)) {
    p->r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    p->r.exit_code = -1;
    p->r.signal = WTERMSIG(status);
  }
  if (r) *r = p->r;
  free(p);
}

int oci_run_start(const char *const *argv, const oci_run_options *o,
                  oci_run_proc **out, oci_error *err) {
  oci_error_reset(err);
  if (!out) return oci_error_set(err, OCI_EINVAL, "run: no output pointer");
  /* the child starts with our mask less the signals the caller may be
     blocking to handle them itself */
  sigset_t mask, sigs;
  pthread_sigmask(SIG_SETMASK, NULL, &mask);
  wait_signals(&sigs);
  sigdelset(&mask, SIGINT);
  sigdelset(&mask, SIGTERM);
  sigdelset(&mask, SIGHUP);
  sigdelset(&mask, SIGQUIT);
  int rc = start(argv, o, &mask, out, err);
  if (rc && *out) {
    kill_proc(*out);
    reap(*out, NULL);
    *out = NULL;
  }
  return rc;
}

int oci_run_pump(oci_run_proc *p, int timeout_ms, bool *done, oci_error *err) {
  oci_error_reset(err);
  if (!p || !done) return oci_error_set(err, OCI_EINVAL, "run: no process");
  *done = p->done;
  if (p->done) return OCI_OK;
  if (p->deadline && now() >= p->deadline) {
    p->r.timed_out = true;
    kill_proc(p);
    *done = true;
    return OCI_OK;
  }
  if (timeout_ms < 0) timeout_ms = 0;
  if (p->deadline) {
    double left = (p->deadline - now()) * 1000.0;
    if (left < timeout_ms) timeout_ms = left > 0 ? (int)left + 1 : 0;
  }
  struct pollfd fds[2] = {{p->fds[0], POLLIN, 0}, {p->fds[1], POLLIN, 0}};
  int n = poll(fds, 2, timeout_ms);
  if (n < 0 && errno != EINTR)
    return oci_error_set(err, OCI_EIO, "run: poll: %s", strerror(errno));
  char buf[65536];
  for (int i = 0; i < 2 && n > 0; i++) {
    if (p->fds[i] < 0 || !fds[i].revents) continue;
    ssize_t got = read(p->fds[i], buf, sizeof buf);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) {
      close(p->fds[i]);
      p->fds[i] = -1;
      continue;
    }
    if (i == 1) keep_tail(&p->r, buf, (size_t)got);
    if (p->o.output && p->o.output(p->o.output_ctx, i + 1, buf, (size_t)got)) {
      kill_proc(p);
      *done = true;
      return oci_error_set(err, OCI_ECANCELED,
                           "run: stopped by the output callback");
    }
  }
  if (p->fds[0] < 0 && p->fds[1] < 0) p->done = true;
  *done = p->done;
  return OCI_OK;
}

void oci_run_finish(oci_run_proc *p, oci_run_result *r) {
  if (r) memset(r, 0, sizeof *r);
  if (!p) return;
  if (!(p->fds[0] < 0 && p->fds[1] < 0)) kill_proc(p);
  reap(p, r);
}

int oci_run_process(const char *const *argv, const oci_run_options *o,
                    oci_run_result *r, oci_error *err) {
  oci_error_reset(err);
  memset(r, 0, sizeof *r);
  sigset_t block, old;
  wait_signals(&block);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  /* the child starts with them unblocked, even when the caller held them
     before this call (a build step holds them over all its phases) */
  sigset_t child_mask = old;
  sigdelset(&child_mask, SIGINT);
  sigdelset(&child_mask, SIGTERM);
  sigdelset(&child_mask, SIGHUP);
  sigdelset(&child_mask, SIGQUIT);
  oci_run_proc *p = NULL;
  int rc = start(argv, o, &child_mask, &p, err);
  int interrupted = 0;
  while (!rc && p && !p->done) {
    struct timespec zero = {0, 0};
    int sig = sigtimedwait(&block, NULL, &zero);
    if (sig > 0) {
      interrupted = sig;
      break;
    }
    bool done;
    rc = oci_run_pump(p, 100, &done, err);
  }
  if (p) {
    if (rc || interrupted) kill_proc(p);
    oci_run_finish(p, r);
  }
  r->interrupted = interrupted;
  /* a signal that came after the output closed is still ours to report */
  if (!r->interrupted) {
    struct timespec zero = {0, 0};
    int sig = sigtimedwait(&block, NULL, &zero);
    if (sig > 0) r->interrupted = sig;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}

void oci_run_reraise(int sig) {
  sigset_t s;
  signal(sig, SIG_DFL);
  sigemptyset(&s);
  sigaddset(&s, sig);
  pthread_sigmask(SIG_UNBLOCK, &s, NULL);
  raise(sig);
}

int oci_run_mount_overlay(const char *lower, const char *upper,
                          const char *work, const char *target,
                          oci_error *err) {
  oci_error_reset(err);
  for (const char *const *p = (const char *const[]){lower, upper, work, NULL};
       *p; p++)
    if (strchr(*p, ',') || strchr(*p, ':'))
      return oci_error_set(err, OCI_EINVAL,
                           "overlay: path %s has a ',' or ':' (mount options)",
                           *p);
  char opts[3 * 4096 + 128];
  const char *extra[] = {",redirect_dir=off,index=off,metacopy=off", ""};
  int e = 0;
  for (int i = 0; i < 2; i++) {
    int n = snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s%s",
                     lower, upper, work, extra[i]);
    if (n < 0 || (size_t)n >= sizeof opts)
      return oci_error_set(err, OCI_ETOOBIG, "overlay: paths too long");
    if (mount("overlay", target, "overlay", 0, opts) == 0) return OCI_OK;
    e = errno;
    if (e != EINVAL) break;
  }
  return oci_error_set(err,
                       e == EPERM || e == ENODEV ? OCI_EUNSUPPORTED : OCI_EIO,
                       "overlay: cannot mount on %s: %s", target, strerror(e));
}

int oci_run_unmount(const char *target, oci_error *err) {
  oci_error_reset(err);
  if (umount2(target, UMOUNT_NOFOLLOW) == 0) return OCI_OK;
  if (errno == EBUSY && umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
    return OCI_OK;
  return oci_error_set(err, OCI_EIO, "cannot unmount %s: %s", target,
                       strerror(errno));
}

static int is_overlay_xattr(const char *name) {
  return strncmp(name, "trusted.overlay.", 16) == 0 ||
         strncmp(name, "user.overlay.", 13) == 0;
}

/* Removes the overlay xattrs of fd; *opaque = it was marked opaque. */
static int strip_xattrs(int fd, const char *path, int *opaque, oci_error *err) {
  char names[8192], v[4];
  *opaque = 0;
  ssize_t n = flistxattr(fd, names, sizeof names);
  if (n < 0) {
    if (errno == ENOTSUP) return OCI_OK;
    return oci_error_set(err, OCI_EIO, "changeset: %s: listxattr: %s", path,
                         strerror(errno));
  }
  for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
    const char *name = names + i;
    if (!is_overlay_xattr(name)) continue;
    if (strcmp(strchr(name, '.') + 1, "overlay.opaque") == 0) {
      ssize_t vn = fgetxattr(fd, name, v, sizeof v);
      if (vn == 1 && v[0] == 'y') *opaque = 1;
    }
    if (fremovexattr(fd, name) != 0)
      return oci_error_set(err, OCI_EIO, "changeset: %s: removexattr %s: %s",
                           path, name, strerror(errno));
  }
  return OCI_OK;
}

static int changeset_dir(int dfd, const char *path, int depth, oci_error *err) {
  if (depth > 512)
    return oci_error_set(err, OCI_EDEPTH, "changeset: %s: too deep", path);
  int opaque;
  int rc = strip_xattrs(dfd, path, &opaque, err);
  if (rc) return rc;
  int lfd = dup(dfd);
  DIR *d = lfd < 0 ? NULL : fdopendir(lfd);
  if (!d) {
    if (lfd >= 0) close(lfd);
    return oci_error_set(err, OCI_EIO, "changeset: %s: %s", path,
                         strerror(errno));
  }
  struct dirent *de;
  char **wh = NULL;
  size_t n_wh = 0;
  while (!rc && (errno = 0, de = readdir(d))) {
    const char *name = de->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", path, name);
    if (strncmp(name, ".wh.", 4) == 0) {
      rc = oci_error_set(err, OCI_EINVAL,
                         "changeset: %s: a file named like a whiteout", sub);
      break;
    }
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      rc = oci_error_set(err, OCI_EIO, "changeset: %s: %s", sub,
                         strerror(errno));
      break;
    }
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      /* replaced after the listing (a new name could show up in it) */
      char **nw = realloc(wh, (n_wh + 1) * sizeof *wh);
      char *copy = nw ? strdup(name) : NULL;
      if (nw) wh = nw;
      if (!copy) {
        rc = oci_error_set(err, OCI_ENOMEM, "changeset: out of memory");
        break;
      }
      wh[n_wh++] = copy;
      continue;
    }
    if (S_ISLNK(st.st_mode)) continue; /* xattrs of links: not ours */
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    if (S_ISDIR(st.st_mode))
      flags |= O_DIRECTORY;
    else if (!S_ISREG(st.st_mode))
      continue;
    int fd = openat(dfd, name, flags);
    if (fd < 0) {
      rc = oci_error_set(err, OCI_EIO, "changeset: %s: %s", sub,
                         strerror(errno));
      break;
    }
    if (S_ISDIR(st.st_mode))
      rc = changeset_dir(fd, sub, depth + 1, err);
    else {
      int op;
      rc = strip_xattrs(fd, sub, &op, err);
    }
    close(fd);
  }
  if (!rc && errno && !de)
    rc =
        oci_error_set(err, OCI_EIO, "changeset: %s: %s", path, strerror(errno));
  closedir(d);
  for (size_t i = 0; i < n_wh; i++) {
    char name[NAME_MAX + 8];
    snprintf(name, sizeof name, ".wh.%s", wh[i]);
    int f = -1;
    if (!rc &&
        (unlinkat(dfd, wh[i], 0) != 0 ||
         (f = openat(dfd, name,
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0600)) < 0))
      rc = oci_error_set(err, OCI_EIO, "changeset: %s/%s: %s", path, wh[i],
                         strerror(errno));
    if (f >= 0) close(f);
    free(wh[i]);
  }
  free(wh);
  if (!rc && opaque && depth > 0) {
    int f = openat(dfd, ".wh..wh..opq",
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f < 0)
      return oci_error_set(err, OCI_EIO, "changeset: %s/.wh..wh..opq: %s", path,
                           strerror(errno));
    close(f);
  }
  return rc;
}

int oci_run_upper_to_changeset(const char *upper, oci_error *err) {
  oci_error_reset(err);
  int fd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return oci_error_set(err, OCI_EIO, "changeset: %s: %s", upper,
                         strerror(errno));
  int rc = changeset_dir(fd, upper, 0, err);
  close(fd);
  return rc;
}

/* 1 when the regular files a and b (open) differ in content, 0 when equal,
   -1 on a read error. */
static int content_differs(int a, int b) {
  char ba[16384], bb[16384];
  for (;;) {
    ssize_t na = read(a, ba, sizeof ba);
    if (na < 0 && errno == EINTR) continue;
    if (na < 0) return -1;
    size_t got = 0;
    while (got < (size_t)na) {
      ssize_t nb = read(b, bb + got, (size_t)na - got);
      if (nb < 0 && errno == EINTR) continue;
      if (nb < 0) return -1;
      if (nb == 0) return 1;
      got += (size_t)nb;
    }
    if (na == 0) {
      ssize_t nb = read(b, bb, 1);
      return nb < 0 ? -1 : nb > 0;
    }
    if (memcmp(ba, bb, (size_t)na) != 0) return 1;
  }
}

static int same_meta(const struct stat *a, const struct stat *b) {
  return a->st_size == b->st_size && a->st_mode == b->st_mode &&
         a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
         a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The directory stream of fd at depth below the snapshot's root, in *d
   (on a duplicate of fd, which stays the caller's). */
static int snapshot_dir(int fd, const char *path, int depth, DIR **d,
                        oci_error *err) {
  if (depth > 512)
    return oci_error_set(err, OCI_EDEPTH, "snapshot: %s: too deep", path);
  int dfd = dup(fd);
  if (dfd >= 0 && (*d = fdopendir(dfd))) return OCI_OK;
  int e = errno;
  if (dfd >= 0) close(dfd);
  return oci_error_set(err, OCI_EIO, "snapshot: %s: %s", path, strerror(e));
}

/* The next entry of d other than "." and ".." in *out (NULL at the end),
   its path ("path/name") in sub. A name starting with ".wh." is refused:
   the unpacked lower tree holds none (the unpacker takes them as
   whiteouts), so the command made it, and the layer would say "delete"
   (or "opaque") where the tree after the step has a file. */
static int snapshot_next(DIR *d, const char *path, char sub[PATH_MAX],
                         const struct dirent **out, oci_error *err) {
  const struct dirent *de;
  *out = NULL;
  do {
    errno = 0;
    if (!(de = readdir(d)))
      return errno ? oci_error_set(err, OCI_EIO, "snapshot: %s: %s", path,
                                   strerror(errno))
                   : OCI_OK;
  } while (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."));
  snprintf(sub, PATH_MAX, "%s/%s", path, de->d_name);
  if (!strncmp(de->d_name, ".wh.", 4))
    return oci_error_set(err, OCI_EINVAL,
                         "snapshot: %s: a file named like a whiteout", sub);
  *out = de;
  return OCI_OK;
}

/* Refuses a ".wh." name anywhere below the directory dfd (new in upper:
   nothing to compare it with). */
static int scan_new_dir(int dfd, const char *path, int depth, oci_error *err) {
  DIR *d;
  int rc = snapshot_dir(dfd, path, depth, &d, err);
  if (rc) return rc;
  const struct dirent *de;
  char sub[PATH_MAX];
  while (!rc && !(rc = snapshot_next(d, path, sub, &de, err)) && de) {
    const char *name = de->d_name;
    if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) continue;
    int c = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (c < 0) {
      if (errno == ENOTDIR || errno == ELOOP) continue; /* not a dir */
      rc =
          oci_error_set(err, OCI_EIO, "snapshot: %s: %s", sub, strerror(errno));
      break;
    }
    rc = scan_new_dir(c, sub, depth + 1, err);
    close(c);
  }
  closedir(d);
  return rc;
}

static int mark_dir(int lfd, int ufd, const char *path, int depth,
                    size_t *changed, oci_error *err) {
  DIR *d;
  int rc = snapshot_dir(ufd, path, depth, &d, err);
  if (rc) return rc;
  const struct dirent *de;
  char sub[PATH_MAX];
  while (!rc && !(rc = snapshot_next(d, path, sub, &de, err)) && de) {
    const char *name = de->d_name;
    struct stat us, ls;
    if (fstatat(ufd, name, &us, AT_SYMLINK_NOFOLLOW) != 0) {
      rc =
          oci_error_set(err, OCI_EIO, "snapshot: %s: %s", sub, strerror(errno));
      break;
    }
    int lst = fstatat(lfd, name, &ls, AT_SYMLINK_NOFOLLOW);
    if (lst != 0 && errno != ENOENT && errno != ENOTDIR) {
      rc =
          oci_error_set(err, OCI_EIO, "snapshot: %s: %s", sub, strerror(errno));
      break;
    }
    if (S_ISDIR(us.st_mode) && (lst != 0 || !S_ISDIR(ls.st_mode))) {
      /* a directory added (or replacing a file): its names checked */
      int n =
          openat(ufd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (n < 0)
        rc = oci_error_set(err, OCI_EIO, "snapshot: %s: %s", sub,
                           strerror(errno));
      else {
        rc = scan_new_dir(n, sub, depth + 1, err);
        close(n);
      }
      continue;
    }
    if (lst != 0) continue; /* added */
    int dir = S_ISDIR(us.st_mode) && S_ISDIR(ls.st_mode);
    int reg = S_ISREG(us.st_mode) && S_ISREG(ls.st_mode);
    if (!dir && !(reg && same_meta(&ls, &us))) continue;
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (dir ? O_DIRECTORY : 0);
    /* a regular file the image gives mode 0000 (Fedora's /etc/shadow):
       the rootless caller owns both copies, and reads them by lending
       itself the owner's read bit */
    int a = dir ? openat(lfd, name, flags) : owner_read_open(lfd, name, flags);
    int b = dir ? openat(ufd, name, flags) : owner_read_open(ufd, name, flags);
    if (a < 0 || b < 0)
      rc =
          oci_error_set(err, OCI_EIO, "snapshot: %s: %s", sub, strerror(errno));
    else if (dir)
      rc = mark_dir(a, b, sub, depth + 1, changed, err);
    else {
      int c = content_differs(a, b);
      if (c < 0)
        rc = oci_error_set(err, OCI_EIO, "snapshot: %s: read: %s", sub,
                           strerror(errno));
      else if (c > 0) {
        struct timespec t[2] = {{0, UTIME_OMIT}, us.st_mtim};
        t[1].tv_nsec =
            t[1].tv_nsec == 999999999 ? t[1].tv_nsec - 1 : t[1].tv_nsec + 1;
        if (futimens(b, t) != 0)
          rc = oci_error_set(err, OCI_EIO, "snapshot: %s: utimens: %s", sub,
                             strerror(errno));
        else if (changed)
          (*changed)++;
      }
    }
    if (a >= 0) close(a);
    if (b >= 0) close(b);
  }
  closedir(d);
  return rc;
}

int oci_run_mark_content_changes(const char *lower, const char *upper,
                                 size_t *changed, oci_error *err) {
  oci_error_reset(err);
  if (changed) *changed = 0;
  int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int l = open(lower, flags);
  if (l < 0)
    return oci_error_set(err, OCI_EIO, "snapshot: %s: %s", lower,
                         strerror(errno));
  int u = open(upper, flags);
  if (u < 0) {
    close(l);
    return oci_error_set(err, OCI_EIO, "snapshot: %s: %s", upper,
                         strerror(errno));
  }
  int rc = mark_dir(l, u, upper, 0, changed, err);
  close(l);
  close(u);
  return rc;
}

/* The first integer in file path: 1 read, 0 absent, -1 unreadable. */
static int read_proc_int(const char *path, long *v) {
  FILE *f = fopen(path, "re");
  if (!f) return errno == ENOENT ? 0 : -1;
  int n = fscanf(f, "%ld", v);
  fclose(f);
  return n == 1 ? 1 : -1;
}

int oci_run_userns_check(oci_error *err) {
  oci_error_reset(err);
  long v = 0;
  const char *max = "/proc/sys/user/max_user_namespaces";
  if (read_proc_int(max, &v) == 1 && v == 0)
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "user namespaces are disabled: %s is 0 (a rootless "
                         "RUN step needs them; an administrator can raise it, "
                         "or run the build as root)",
                         max);
  const char *clone = "/proc/sys/kernel/unprivileged_userns_clone";
  if (geteuid() != 0 && read_proc_int(clone, &v) == 1 && v == 0)
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "unprivileged user namespaces are disabled: %s is 0 "
                         "(a rootless RUN step needs them; an administrator "
                         "can set it to 1, or run the build as root)",
                         clone);
  /* the probe: a child that only unshares and exits with the errno */
  pid_t pid = fork();
  if (pid < 0)
    return oci_error_set(err, OCI_EIO, "user namespace check: fork: %s",
                         strerror(errno));
  if (pid == 0) _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : (errno & 0xff));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return OCI_OK;
  int e = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  return oci_error_set(err, OCI_EUNSUPPORTED,
                       "this process cannot create a user namespace "
                       "(unshare(CLONE_NEWUSER): %s): a rootless RUN step "
                       "needs one (seccomp or the container this runs in may "
                       "forbid it)",
                       e ? strerror(e) : "the probe did not exit");
}
