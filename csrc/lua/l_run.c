/* core.run (OCI_WITH_IMAGE): what `img:run` needs from C (csrc/image/run.c):
     process(argv, {cwd=, timeout=, output=function(stream, data)})
       -> {exit_code=, signal=, timed_out=, interrupted=, stderr_tail=}
     start(argv, {cwd=, timeout=, output=}) -> Proc: started, not waited
       for; proc:pump([timeout_ms]) -> done, proc:finish() -> the result
       (less interrupted; the process killed when it still runs),
     block_signals() -> bits, restore_signals(bits), pending_signal() ->
       SIGINT/SIGTERM/SIGHUP/SIGQUIT taken when blocked and arrived, or nil
       (oci.build.parallel waits for them between its processes),
     reraise(sig), mount_overlay(lower, upper, work, target),
     unmount(target), upper_to_changeset(upper),
     mark_content_changes(lower, upper) -> number of files marked,
     list(dir [, recursive]) -> the entries below dir (no link followed),
     lstat(path) -> "file", "dir", "symlink", "other" or "missing",
     userns_check() -> true when a user namespace can be made
   Failures return nil, message, err. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"
#include "ocil_parts.h"
#include "ocispec/run.h"

typedef struct out_ctx {
  lua_State *L;
  int fn;     /* stack index of the callback */
  int failed; /* the callback raised: its error is on the stack */
} out_ctx;

static int on_output(void *ctx, int stream, const char *data, size_t n) {
  out_ctx *c = ctx;
  lua_State *L = c->L;
  lua_pushvalue(L, c->fn);
  lua_pushstring(L, stream == 1 ? "stdout" : "stderr");
  lua_pushlstring(L, data, n);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    c->failed = 1; /* the message stays on the stack, raised after cleanup */
    return 1;
  }
  return 0;
}

static int l_process(lua_State *L) {
  static const char *const known[] = {"cwd", "timeout", "output", NULL};
  oci_error err = {0};
  lua_settop(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n >= 1 && n < 4096, 1, "argv: 1 to 4095 strings expected");
  const char **argv = lua_newuserdatauv(L, sizeof *argv * (size_t)(n + 1), 0);
  int argv_idx = lua_gettop(L);
  (void)argv_idx;
  luaL_checkstack(L, (int)n + 8, "argv too long");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (!s || lua_type(L, -1) != LUA_TSTRING)
      return luaL_error(L, "argv[%d]: string expected", (int)i);
    if (strlen(s) != len) {
      oci_error_set(&err, OCI_EINVAL, "argv[%d]: holds a NUL byte", (int)i);
      return ocil_parts_push_error(L, &err);
    }
    argv[i - 1] = s; /* stays on the stack: reachable while we run */
  }
  argv[n] = NULL;
  oci_run_options o = OCI_RUN_OPTIONS_INIT;
  out_ctx ctx = {L, 0, 0};
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    ocil_check_options(L, 2, known, NULL);
    lua_getfield(L, 2, "cwd");
    o.cwd = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_getfield(L, 2, "timeout");
    o.timeout = lua_isnil(L, -1) ? 0 : luaL_checknumber(L, -1);
    lua_getfield(L, 2, "output");
    if (!lua_isnil(L, -1)) {
      luaL_checktype(L, -1, LUA_TFUNCTION);
      ctx.fn = lua_gettop(L);
      o.output = on_output;
      o.output_ctx = &ctx;
    }
  }
  oci_run_result *r = lua_newuserdatauv(L, sizeof *r, 0);
  int rc = oci_run_process(argv, &o, r, &err);
  if (ctx.failed) return lua_error(L); /* the callback's error, child gone */
  if (rc) return ocil_parts_push_error(L, &err);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, r->exit_code);
  lua_setfield(L, -2, "exit_code");
  lua_pushinteger(L, r->signal);
  lua_setfield(L, -2, "signal");
  lua_pushboolean(L, r->timed_out);
  lua_setfield(L, -2, "timed_out");
  lua_pushinteger(L, r->interrupted);
  lua_setfield(L, -2, "interrupted");
  lua_pushlstring(L, r->stderr_tail, r->tail_len);
  lua_setfield(L, -2, "stderr_tail");
  return 1;
}

static int l_reraise(lua_State *L) {
  lua_Integer sig = luaL_checkinteger(L, 1);
  luaL_argcheck(L, sig > 0 && sig < 65, 1, "not a signal number");
  oci_run_reraise((int)sig);
  return 0;
}

static int l_mount_overlay(lua_State *L) {
  oci_error err = {0};
  const char *lo, *up, *wk, *tg;
  if (ocil_parts_cstring(L, 1, "lower", &lo, &err) ||
      ocil_parts_cstring(L, 2, "upper", &up, &err) ||
      ocil_parts_cstring(L, 3, "work", &wk, &err) ||
      ocil_parts_cstring(L, 4, "target", &tg, &err) ||
      oci_run_mount_overlay(lo, up, wk, tg, &err))
    return ocil_parts_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_unmount(lua_State *L) {
  return ocil_parts_path_op(L, "target", oci_run_unmount);
}

static int l_upper_to_changeset(lua_State *L) {
  return ocil_parts_path_op(L, "upper", oci_run_upper_to_changeset);
}

static int l_mark_content_changes(lua_State *L) {
  oci_error err = {0};
  const char *lo, *up;
  size_t n = 0;
  if (ocil_parts_cstring(L, 1, "lower", &lo, &err) ||
      ocil_parts_cstring(L, 2, "upper", &up, &err) ||
      oci_run_mark_content_changes(lo, up, &n, &err))
    return ocil_parts_push_error(L, &err);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* ---- list(path): the tree below a directory, or one entry ------------ */

typedef struct lister {
  lua_State *L;
  int out; /* stack index of the result list */
  lua_Integer n;
  oci_error err;
  int max_depth; /* 0: the entries of the directory only */
} lister;

#define LIST_MAX_ENTRIES 1000000
#define LIST_MAX_DEPTH 256

static int list_push(lister *ls, int dfd, const char *name, const char *rel,
                     const struct stat *st) {
  lua_State *L = ls->L;
  if (ls->n >= LIST_MAX_ENTRIES)
    return oci_error_set(&ls->err, OCI_ETOOBIG, "list: more than %d entries",
                         LIST_MAX_ENTRIES);
  const char *type = S_ISREG(st->st_mode)   ? "file"
                     : S_ISDIR(st->st_mode) ? "dir"
                     : S_ISLNK(st->st_mode) ? "symlink"
                                            : NULL;
  if (!type) return OCI_OK; /* devices, fifos, sockets: not copied */
  lua_createtable(L, 0, 7);
  lua_pushstring(L, rel);
  lua_setfield(L, -2, "path");
  lua_pushstring(L, type);
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, st->st_mode & 07777);
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, st->st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, st->st_gid);
  lua_setfield(L, -2, "gid");
  lua_pushinteger(L, (lua_Integer)st->st_size);
  lua_setfield(L, -2, "size");
  if (S_ISLNK(st->st_mode)) {
    char t[PATH_MAX];
    ssize_t n = readlinkat(dfd, name, t, sizeof t - 1);
    if (n < 0) {
      lua_pop(L, 1);
      return oci_error_set(&ls->err, OCI_EIO, "list: %s: %s", rel,
                           strerror(errno));
    }
    lua_pushlstring(L, t, (size_t)n);
    lua_setfield(L, -2, "target");
  }
  lua_rawseti(L, ls->out, ++ls->n);
  return OCI_OK;
}

static int list_dir(lister *ls, int fd, const char *rel, int depth) {
  if (depth > LIST_MAX_DEPTH)
    return oci_error_set(&ls->err, OCI_EDEPTH, "list: %s: deeper than %d", rel,
                         LIST_MAX_DEPTH);
  int dfd = dup(fd);
  DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
  if (!d) {
    if (dfd >= 0) close(dfd);
    return oci_error_set(&ls->err, OCI_EIO, "list: %s: %s", rel,
                         strerror(errno));
  }
  int rc = OCI_OK;
  struct dirent *de;
  while (!rc && (errno = 0, de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char sub[PATH_MAX];
    int n =
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
    if (n < 0 || (size_t)n >= sizeof sub) {
      rc = oci_error_set(&ls->err, OCI_ETOOBIG, "list: %s: path too long", rel);
      break;
    }
    struct stat st;
    if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      rc = oci_error_set(&ls->err, OCI_EIO, "list: %s: %s", sub,
                         strerror(errno));
      break;
    }
    rc = list_push(ls, fd, de->d_name, sub, &st);
    if (!rc && S_ISDIR(st.st_mode) && depth < ls->max_depth) {
      int cfd = openat(fd, de->d_name,
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (cfd < 0)
        rc = oci_error_set(&ls->err, OCI_EIO, "list: %s: %s", sub,
                           strerror(errno));
      else {
        rc = list_dir(ls, cfd, sub, depth + 1);
        close(cfd);
      }
    }
  }
  if (!rc && !de && errno)
    rc = oci_error_set(&ls->err, OCI_EIO, "list: %s: %s", rel, strerror(errno));
  closedir(d);
  return rc;
}

/* list(dir [, recursive]): every entry below dir (never following a
   link; recursive false: the directory's own entries only), each
   {path= (relative), type= ("file", "dir", "symlink"), mode=, uid=, gid=,
   size=, target=}; other kinds are left out. In directory order. */
static int l_list(lua_State *L) {
  lister ls = {L, 0, 0, {0}, LIST_MAX_DEPTH};
  const char *path;
  if (ocil_parts_cstring(L, 1, "path", &path, &ls.err))
    return ocil_parts_push_error(L, &ls.err);
  if (!lua_isnoneornil(L, 2) && !lua_toboolean(L, 2)) ls.max_depth = 0;
  lua_settop(L, 1);
  lua_newtable(L);
  ls.out = 2;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    oci_error_set(&ls.err, OCI_EIO, "list: %s: %s", path, strerror(errno));
    return ocil_parts_push_error(L, &ls.err);
  }
  int rc = list_dir(&ls, fd, "", 0);
  close(fd);
  if (rc) return ocil_parts_push_error(L, &ls.err);
  return 1;
}

/* lstat(path): "file", "dir", "symlink", "other" or "missing" (no link
   followed in the last component). */
static int l_lstat(lua_State *L) {
  oci_error err = {0};
  const char *path;
  if (ocil_parts_cstring(L, 1, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      lua_pushliteral(L, "missing");
      return 1;
    }
    oci_error_set(&err, OCI_EIO, "%s: %s", path, strerror(errno));
    return ocil_parts_push_error(L, &err);
  }
  lua_pushstring(L, S_ISREG(st.st_mode)   ? "file"
                    : S_ISDIR(st.st_mode) ? "dir"
                    : S_ISLNK(st.st_mode) ? "symlink"
                                          : "other");
  return 1;
}

/* now(): seconds of the monotonic clock (step timings). */
static int l_userns_check(lua_State *L) {
  oci_error err = {0};
  if (oci_run_userns_check(&err)) return ocil_push_error(L, &err, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* ---- start(argv, opts) -> Proc: a process pumped by the caller -------- */

#define PROC_MT "ocispec.run.Proc"

/* The handle's extra bytes: the output context oci_run_pump calls with. */
typedef struct proc_ctx {
  out_ctx out;
} proc_ctx;

static void proc_release(void *p) {
  oci_run_finish(p, NULL);
}

static const ocil_handle_class proc_class = {PROC_MT, proc_release, NULL, 1};

/* argv of the table at idx, in a userdata pushed on the stack. */
static const char **check_argv(lua_State *L, int idx, oci_error *err,
                               int *bad) {
  lua_Integer n = luaL_len(L, idx);
  luaL_argcheck(L, n >= 1 && n < 4096, idx, "argv: 1 to 4095 strings expected");
  const char **argv = lua_newuserdatauv(L, sizeof *argv * (size_t)(n + 1), 0);
  luaL_checkstack(L, (int)n + 8, "argv too long");
  *bad = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (!s || lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "argv[%d]: string expected", (int)i);
    if (strlen(s) != len) {
      oci_error_set(err, OCI_EINVAL, "argv[%d]: holds a NUL byte", (int)i);
      *bad = 1;
      return NULL;
    }
    argv[i - 1] = s; /* stays on the stack while we start */
  }
  argv[n] = NULL;
  return argv;
}

static int l_start(lua_State *L) {
  static const char *const known[] = {"cwd", "timeout", "output", NULL};
  oci_error err = {0};
  lua_settop(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  oci_run_options o = OCI_RUN_OPTIONS_INIT;
  int has_output = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    ocil_check_options(L, 2, known, NULL);
    lua_getfield(L, 2, "cwd");
    o.cwd = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_getfield(L, 2, "timeout");
    o.timeout = lua_isnil(L, -1) ? 0 : luaL_checknumber(L, -1);
    lua_getfield(L, 2, "output");
    if (!lua_isnil(L, -1)) {
      luaL_checktype(L, -1, LUA_TFUNCTION);
      has_output = 1;
    }
  }
  int fn = lua_gettop(L); /* the output function, or nil */
  int bad;
  const char **argv = check_argv(L, 1, &err, &bad);
  if (bad) return ocil_parts_push_error(L, &err);
  ocil_handle *h = ocil_handle_new(L, &proc_class, sizeof(proc_ctx), 1);
  proc_ctx *c = ocil_handle_extra(h);
  memset(c, 0, sizeof *c);
  if (has_output) {
    lua_pushvalue(L, fn);
    lua_setiuservalue(L, -2, 1);
    o.output = on_output;
    o.output_ctx = &c->out;
  }
  oci_run_proc *p;
  if (oci_run_start((const char *const *)argv, &o, &p, &err))
    return ocil_parts_push_error(L, &err);
  h->p = p;
  return 1;
}

/* proc:pump([timeout_ms]) -> done (boolean) | nil, msg, err; the output
   function's error is raised (the process killed). */
static int m_pump(lua_State *L) {
  ocil_handle *h = ocil_handle_check(L, 1, &proc_class);
  lua_Integer ms = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, ms >= 0 && ms <= 60000, 2, "timeout_ms: 0 to 60000");
  lua_settop(L, 2);
  proc_ctx *c = ocil_handle_extra(h);
  lua_getiuservalue(L, 1, 1); /* the output function (or nil) at 3 */
  c->out.L = L;
  c->out.fn = 3;
  c->out.failed = 0;
  bool done = false;
  oci_error err = {0};
  ocil_handle_use(L, 1, &proc_class, 1);
  int rc = oci_run_pump(h->p, (int)ms, &done, &err);
  ocil_handle_use(L, 1, &proc_class, -1);
  if (c->out.failed) return lua_error(L); /* the callback's error */
  if (rc) return ocil_parts_push_error(L, &err);
  lua_pushboolean(L, done);
  return 1;
}

/* proc:finish() -> {exit_code=, signal=, timed_out=, stderr_tail=}: kills
   the process when it still runs, waits for it; the handle is closed. */
static int m_finish(lua_State *L) {
  ocil_handle *h = ocil_handle_check(L, 1, &proc_class);
  oci_run_result *r = lua_newuserdatauv(L, sizeof *r, 0);
  oci_run_proc *p = h->p;
  h->p = NULL;
  oci_run_finish(p, r);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, r->exit_code);
  lua_setfield(L, -2, "exit_code");
  lua_pushinteger(L, r->signal);
  lua_setfield(L, -2, "signal");
  lua_pushboolean(L, r->timed_out);
  lua_setfield(L, -2, "timed_out");
  lua_pushlstring(L, r->stderr_tail, r->tail_len);
  lua_setfield(L, -2, "stderr_tail");
  return 1;
}

/* ---- the signals a RUN waits for: SIGINT, SIGTERM, SIGHUP, SIGQUIT ---- */

static const int wait_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* block_signals() -> the bits (1 << i, i an index in wait_sigs) of those
   that were already blocked; blocks them all in the calling thread. */
static int l_block_signals(lua_State *L) {
  sigset_t s, old;
  sigemptyset(&s);
  for (int i = 0; i < 4; i++)
    sigaddset(&s, wait_sigs[i]);
  pthread_sigmask(SIG_BLOCK, &s, &old);
  lua_Integer bits = 0;
  for (int i = 0; i < 4; i++)
    if (sigismember(&old, wait_sigs[i])) bits |= (lua_Integer)1 << i;
  lua_pushinteger(L, bits);
  return 1;
}

/* restore_signals(bits): unblocks those not in bits. */
static int l_restore_signals(lua_State *L) {
  lua_Integer bits = luaL_checkinteger(L, 1);
  sigset_t s;
  sigemptyset(&s);
  for (int i = 0; i < 4; i++)
    if (!(bits & ((lua_Integer)1 << i))) sigaddset(&s, wait_sigs[i]);
  pthread_sigmask(SIG_UNBLOCK, &s, NULL);
  return 0;
}

/* pending_signal() -> the number of a blocked one that arrived (taken), or
   nil. */
static int l_pending_signal(lua_State *L) {
  sigset_t s;
  sigemptyset(&s);
  for (int i = 0; i < 4; i++)
    sigaddset(&s, wait_sigs[i]);
  struct timespec zero = {0, 0};
  int sig = sigtimedwait(&s, NULL, &zero);
  if (sig > 0)
    lua_pushinteger(L, sig);
  else
    lua_pushnil(L);
  return 1;
}

int ocil_push_run_lib(lua_State *L) {
  static const luaL_Reg proc_methods[] = {
      {"pump", m_pump}, {"finish", m_finish}, {NULL, NULL}};
  ocil_handle_register(L, &proc_class, proc_methods, NULL);
  static const luaL_Reg fns[] = {
      {"process", l_process},
      {"start", l_start},
      {"block_signals", l_block_signals},
      {"restore_signals", l_restore_signals},
      {"pending_signal", l_pending_signal},
      {"reraise", l_reraise},
      {"mount_overlay", l_mount_overlay},
      {"unmount", l_unmount},
      {"upper_to_changeset", l_upper_to_changeset},
      {"list", l_list},
      {"lstat", l_lstat},
      {"now", l_now},
      {"userns_check", l_userns_check},
      {"mark_content_changes", l_mark_content_changes},
      {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
