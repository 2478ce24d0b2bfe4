/* Credential sources of the registry client: the auth files that podman,
   skopeo and docker read, in containers/image's order, and Docker
   credential helpers (`docker-credential-NAME get|store|erase`, the
   docker-credential-helpers protocol) run with an argv, never through a
   shell, with bounded output and a timeout. Secrets are wiped before they
   are freed and never enter an error message. */
#define _GNU_SOURCE /* asprintf, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "ocispec/ocispec.h"
#include "registry_internal.h"

extern char **environ;

static void wipe(char *s, size_t n) {
  if (!s) return;
  volatile char *v = s;
  while (n--)
    *v++ = 0;
}

static void wipe_free(char *s) {
  if (!s) return;
  wipe(s, strlen(s));
  free(s);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool reg_helper_name_ok(const char *name) {
  size_t n = strlen(name);
  if (!n || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

void reg_helper_result_free(reg_helper_result *h) {
  if (h->out) wipe(h->out, h->outlen);
  free(h->out);
  free(h->errtxt);
  memset(h, 0, sizeof *h);
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Reads what is there on fd into buf (bounded by REG_HELPER_OUT_MAX):
   1 at EOF, 0 for more later, -1 when too much, -2 out of memory. */
static int drain(int fd, char **buf, size_t *len, size_t *cap) {
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n == 0) return 1;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return 1; /* a read error ends the stream */
    }
    if (*len + (size_t)n > REG_HELPER_OUT_MAX) {
      wipe(chunk, sizeof chunk);
      return -1;
    }
    int rc = reg_append(buf, len, cap, chunk, (size_t)n);
    wipe(chunk, sizeof chunk);
    if (rc) return -2;
  }
}

int reg_helper_run(const char *name, const char *action, const char *in,
                   size_t inlen, unsigned timeout_ms, reg_helper_result *res,
                   oci_error *err) {
  memset(res, 0, sizeof *res);
  if (!reg_helper_name_ok(name))
    return oci_error_set(err, OCI_EINVAL,
                         "credential helper name \"%.64s\" is not a plain "
                         "name (letters, digits, '-', '_', '.')",
                         name);
  char prog[96];
  snprintf(prog, sizeof prog, "docker-credential-%s", name);
  int sv[2] = {-1, -1}, op[2] = {-1, -1}, ep[2] = {-1, -1};
  /* stdin is a socket: send(MSG_NOSIGNAL) to a helper that exited early
     is EPIPE, never a SIGPIPE in the caller's process */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
      pipe2(op, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
    int e = errno;
    for (int i = 0; i < 2; i++) {
      close_fd(&sv[i]);
      close_fd(&op[i]);
      close_fd(&ep[i]);
    }
    return oci_error_set(err, OCI_EIO, "credential helper %s: %s", prog,
                         strerror(e));
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
  posix_spawn_file_actions_adddup2(&fa, op[1], 1);
  posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
  posix_spawnattr_init(&at);
  sigset_t none, pipe_only;
  sigemptyset(&none);
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &pipe_only);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char *argv[] = {prog, (char *)action, NULL};
  pid_t pid;
  int se = posix_spawnp(&pid, prog, &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close_fd(&sv[1]);
  close_fd(&op[1]);
  close_fd(&ep[1]);
  if (se) {
    close_fd(&sv[0]);
    close_fd(&op[0]);
    close_fd(&ep[0]);
    if (se == ENOENT)
      return oci_error_set(err, OCI_EIO,
                           "credential helper %s is not on PATH (named by "
                           "credHelpers or credsStore)",
                           prog);
    return oci_error_set(err, OCI_EIO, "credential helper %s: cannot run: %s",
                         prog, strerror(se));
  }
  fcntl(sv[0], F_SETFL, O_NONBLOCK);
  fcntl(op[0], F_SETFL, O_NONBLOCK);
  fcntl(ep[0], F_SETFL, O_NONBLOCK);
  size_t sent = 0, outcap = 0, errcap = 0;
  int64_t deadline = now_ms() + (timeout_ms ? timeout_ms : 30000);
  int rc = OCI_OK;
  bool out_eof = false, err_eof = false, killed = false, exited = false;
  int st = 0;
  if (!inlen) shutdown(sv[0], SHUT_WR);
  while (!out_eof || !err_eof) {
    /* the helper has exited: all it wrote is in the pipes (a write
       blocks until read), so read that and stop; a process it left
       behind may hold the pipes open for ever (waiting for their end
       made every answer wait helper_timeout_ms, then fail) */
    if (waitpid(pid, &st, WNOHANG) == pid) {
      exited = true;
      int d = 0;
      if (!out_eof) d = drain(op[0], &res->out, &res->outlen, &outcap);
      if (d >= 0 && !err_eof)
        d = drain(ep[0], &res->errtxt, &res->errlen, &errcap);
      if (d == -1)
        rc = oci_error_set(err, OCI_ETOOBIG,
                           "credential helper %s %s: printed more than %u "
                           "bytes (stopped)",
                           prog, action, REG_HELPER_OUT_MAX);
      else if (d == -2)
        rc = reg_nomem(err);
      break;
    }
    struct pollfd p[3];
    nfds_t n = 0;
    int iw = -1, io = -1, ie = -1;
    if (sent < inlen) {
      iw = (int)n;
      p[n++] = (struct pollfd){.fd = sv[0], .events = POLLOUT};
    }
    if (!out_eof) {
      io = (int)n;
      p[n++] = (struct pollfd){.fd = op[0], .events = POLLIN};
    }
    if (!err_eof) {
      ie = (int)n;
      p[n++] = (struct pollfd){.fd = ep[0], .events = POLLIN};
    }
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      rc = oci_error_set(err, OCI_EIO,
                         "credential helper %s %s: no answer within %u ms "
                         "(stopped)",
                         prog, action, timeout_ms ? timeout_ms : 30000);
      break;
    }
    int k = poll(p, n, (int)(left > 100 ? 100 : left));
    if (k < 0 && errno != EINTR) {
      rc = oci_error_set(err, OCI_EIO, "credential helper %s: poll: %s", prog,
                         strerror(errno));
      break;
    }
    if (k <= 0) continue;
    if (iw >= 0 && p[iw].revents) {
      ssize_t w =
          send(sv[0], in + sent, inlen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) sent += (size_t)w;
      if (w < 0 && errno != EAGAIN && errno != EINTR)
        sent = inlen; /* it does not read its input: give up writing */
      if (sent == inlen) shutdown(sv[0], SHUT_WR);
    }
    int d = 0;
    if (io >= 0 && p[io].revents) {
      d = drain(op[0], &res->out, &res->outlen, &outcap);
      if (d == 1) out_eof = true;
    }
    if (d >= 0 && ie >= 0 && p[ie].revents) {
      d = drain(ep[0], &res->errtxt, &res->errlen, &errcap);
      if (d == 1) err_eof = true;
    }
    if (d == -1) {
      rc = oci_error_set(err, OCI_ETOOBIG,
                         "credential helper %s %s: printed more than %u bytes "
                         "(stopped)",
                         prog, action, REG_HELPER_OUT_MAX);
      break;
    }
    if (d == -2) {
      rc = reg_nomem(err);
      break;
    }
  }
  close_fd(&sv[0]);
  close_fd(&op[0]);
  close_fd(&ep[0]);
  if (rc && !exited) {
    kill(pid, SIGKILL);
    killed = true;
  }
  /* the streams are closed; wait for the exit, still within the deadline */
  while (!exited) {
    pid_t w = waitpid(pid, &st, killed ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      st = 0;
      break;
    }
    if (w == 0 && now_ms() >= deadline) {
      kill(pid, SIGKILL);
      killed = true;
      if (!rc)
        rc = oci_error_set(err, OCI_EIO,
                           "credential helper %s %s: did not exit within %u "
                           "ms (stopped)",
                           prog, action, timeout_ms ? timeout_ms : 30000);
      continue;
    }
    if (w == 0) {
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  if (rc) {
    reg_helper_result_free(res);
    return rc;
  }
  res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return OCI_OK;
}

/* Whether the n bytes at s mention a secret ("Secret", any case): a
   helper's credentials JSON, whatever its exit status said. */
static bool mentions_secret(const char *s, size_t n) {
  for (size_t i = 0; i + 6 <= n; i++)
    if (!strncasecmp(s + i, "secret", 6)) return true;
  return false;
}

/* The helper's words for a message: stderr, else stdout (the protocol's
   helpers print their errors there), trimmed, escaped, cut; never a
   stream that holds a secret (a helper that printed its credentials and
   then exited non-zero). */
static void helper_words(const reg_helper_result *h, char *out, size_t outsz) {
  const char *s = h->errlen ? h->errtxt : h->out;
  size_t n = h->errlen ? h->errlen : h->outlen;
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
    n--;
  if (!n) {
    snprintf(out, outsz, "(it printed nothing)");
    return;
  }
  if (mentions_secret(s, n)) {
    snprintf(out, outsz, "(its %s mentions a secret: not shown)",
             h->errlen ? "stderr" : "output");
    return;
  }
  reg_escape(s, n, out, outsz);
}

static int helper_failed(const char *name, const char *action,
                         const char *server, const reg_helper_result *h,
                         oci_error *err) {
  char words[240];
  helper_words(h, words, sizeof words);
  return oci_error_set(err, OCI_EIO,
                       "credential helper docker-credential-%s %s for %.100s "
                       "failed (exit status %d): %s",
                       name, action, server, h->status, words);
}

/* The server key helpers file host's credentials under, as docker does. */
static const char *helper_server(const char *host, char *buf, size_t n) {
  if (!oci_host_is_docker_hub(host)) return host;
  snprintf(buf, n, "https://%s/v1/", OCI_HOST_DOCKER_HUB_INDEX);
  return buf;
}

int reg_helper_get(oci_registry *r, const char *name, bool *found,
                   oci_error *err) {
  *found = false;
  char hub[128];
  const char *server = helper_server(r->host, hub, sizeof hub);
  reg_helper_result h;
  int rc = reg_helper_run(name, "get", server, strlen(server),
                          r->o.helper_timeout_ms, &h, err);
  if (rc) return rc;
  if (h.status) {
    if (h.out && strstr(h.out, "credentials not found")) {
      reg_helper_result_free(&h);
      return OCI_OK;
    }
    rc = helper_failed(name, "get", server, &h, err);
    reg_helper_result_free(&h);
    return rc;
  }
  oci_registry_helper_reply *rep = NULL;
  oci_error pe;
  rc = oci_registry_helper_reply_parse(h.out ? h.out : "", h.outlen, NULL, &rep,
                                       &pe);
  reg_helper_result_free(&h);
  if (rc == OCI_ENOMEM) return reg_nomem(err);
  if (rc) /* pe.message is not shown: it may quote a piece of the secret */
    return oci_error_set(err, OCI_EINVAL,
                         "credential helper docker-credential-%s get for "
                         "%.100s: its output is not credentials JSON "
                         "({\"Username\":…,\"Secret\":…})%s%s",
                         name, server, pe.pointer[0] ? " at " : "", pe.pointer);
  const char *user = rep->username ? rep->username : "";
  const char *secret = rep->secret ? rep->secret : "";
  if (*user || *secret) {
    if ((rc = reg_check_header_value("the credential helper's username", user,
                                     err)) ||
        (rc = reg_check_header_value("the credential helper's secret", secret,
                                     err)))
      ;
    else if (!strcmp(user, "<token>")) {
      wipe_free(r->identity_token);
      if (!(r->identity_token = strdup(secret))) rc = reg_nomem(err);
      *found = !rc;
    } else {
      wipe_free(r->username);
      wipe_free(r->password);
      r->username = strdup(user);
      r->password = strdup(secret);
      if (!r->username || !r->password)
        rc = reg_nomem(err);
      else
        *found = true;
    }
  }
  if (rep->secret) wipe(rep->secret, strlen(rep->secret));
  oci_registry_helper_reply_free(rep);
  return rc;
}

/* ---- the files, in order ------------------------------------------------ */

static int try_file(oci_registry *r, char *path, bool *found, oci_error *err) {
  if (!path) return reg_nomem(err);
  int rc = reg_auth_from_file(r, path, false, found, err);
  free(path);
  return rc;
}

static char *path_of(const char *dir, const char *rest) {
  char *p = NULL;
  if (asprintf(&p, "%s/%s", dir, rest) < 0) return NULL;
  return p;
}

int reg_credentials_find(oci_registry *r, const char *auth_file,
                         oci_error *err) {
  bool found = false;
  if (auth_file) return reg_auth_from_file(r, auth_file, true, &found, err);
  /* containers/image (pkg/docker/config getAuthFilePaths): the primary file
     ($REGISTRY_AUTH_FILE, which then is the only one, else
     $XDG_RUNTIME_DIR/containers/auth.json), the user's
     ~/.config/containers/auth.json, then Docker's config.json */
  const char *raf = getenv("REGISTRY_AUTH_FILE");
  if (raf && *raf) return reg_auth_from_file(r, raf, false, &found, err);
  const char *run = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
  const char *xch = getenv("XDG_CONFIG_HOME"), *dc = getenv("DOCKER_CONFIG");
  int rc = OCI_OK;
  if (run && *run)
    rc = try_file(r, path_of(run, "containers/auth.json"), &found, err);
  if (!rc && !found && xch && *xch)
    rc = try_file(r, path_of(xch, "containers/auth.json"), &found, err);
  else if (!rc && !found && home && *home)
    rc =
        try_file(r, path_of(home, ".config/containers/auth.json"), &found, err);
  if (!rc && !found && dc && *dc)
    rc = try_file(r, path_of(dc, "config.json"), &found, err);
  else if (!rc && !found && home && *home)
    rc = try_file(r, path_of(home, ".docker/config.json"), &found, err);
  return rc;
}

/* ---- public --------------------------------------------------------------
 */

int oci_registry_run_helper(const char *name, const char *action,
                            const char *input, size_t input_len,
                            unsigned timeout_ms,
                            oci_registry_helper_output *out, oci_error *err) {
  oci_error_reset(err);
  memset(out, 0, sizeof *out);
  if (!name || !action || (!input && input_len))
    return oci_error_set(err, OCI_EINVAL, "credential helper: %s is NULL",
                         !name     ? "name"
                         : !action ? "action"
                                   : "input");
  if (strcmp(action, "get") && strcmp(action, "store") &&
      strcmp(action, "erase") && strcmp(action, "list"))
    return oci_error_set(err, OCI_EINVAL,
                         "credential helper action \"%.20s\" is not get, "
                         "store, erase or list",
                         action);
  reg_helper_result h;
  int rc = reg_helper_run(name, action, input ? input : "", input_len,
                          timeout_ms, &h, err);
  if (rc) return rc;
  out->status = h.status;
  out->out = h.out;
  out->out_len = h.outlen;
  out->err = h.errtxt;
  out->err_len = h.errlen;
  return OCI_OK;
}

void oci_registry_helper_output_free(oci_registry_helper_output *o) {
  if (!o) return;
  if (o->out) wipe(o->out, o->out_len);
  free(o->out);
  free(o->err);
  memset(o, 0, sizeof *o);
}
