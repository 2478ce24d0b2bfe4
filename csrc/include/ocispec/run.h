/** @file
   ocispec run: what build steps need to run a command in an image
   (`img:run`): spawning a program (an OCI runtime such as runc or crun)
   with argv, never through a shell, with a timeout and its output passed
   to a callback; mounting an overlay file system for the step and turning
   its upper directory into an image-spec layer changeset. Linux only;
   mounting needs root. */
#ifndef OCISPEC_RUN_H
#define OCISPEC_RUN_H

#include "ocispec/config.h"
#ifndef OCI_WITH_IMAGE
#error "<ocispec/run.h>: ocispec was built without OCISPEC_WITH_IMAGE"
#endif

#include <stdbool.h>
#include <stddef.h>

#include "ocispec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Receives the child's output as it comes: stream 1 (stdout) or 2
   (stderr), n bytes at data (valid during the call only). A non-zero
   return stops the run: the child's process group is killed and
   oci_run_process fails with OCI_ECANCELED. */
typedef int (*oci_run_output_fn)(void *ctx, int stream, const char *data,
                                 size_t n);

/** Options of oci_run_process; its strings stay the caller's. */
typedef struct oci_run_options {
  unsigned version;         /**< OCI_RUN_OPTIONS_VERSION */
  const char *cwd;          /**< the child's working directory; NULL: ours */
  double timeout;           /**< seconds; <= 0: none */
  oci_run_output_fn output; /**< NULL: the output is read and dropped */
  void *output_ctx;         /**< passed to output */
} oci_run_options;

/** The version of oci_run_options this header declares. */
#define OCI_RUN_OPTIONS_VERSION 1
/** Initializer of oci_run_options: the defaults. */
#define OCI_RUN_OPTIONS_INIT                                                   \
  { OCI_RUN_OPTIONS_VERSION, NULL, 0, NULL, NULL }
/** *o = OCI_RUN_OPTIONS_INIT. */
OCI_API void oci_run_options_init(oci_run_options *o);

/** Bytes of stderr that oci_run_result keeps (the last ones). */
#define OCI_RUN_STDERR_TAIL 2048

/** How the child ended. */
typedef struct oci_run_result {
  int exit_code;   /**< its exit status; -1 when killed by a signal */
  int signal;      /**< the signal that killed it, else 0 */
  bool timed_out;  /**< killed (SIGKILL) when the timeout passed */
  int interrupted; /**< SIGINT, SIGTERM, SIGHUP or SIGQUIT received by the
                      caller while waiting (the child was killed); the
                      signal stays pending-free: re-raise it after cleanup */
  size_t tail_len; /**< bytes in stderr_tail */
  char stderr_tail[OCI_RUN_STDERR_TAIL +
                   1]; /**< the last stderr bytes, NUL-ended */
} oci_run_result;

/** Runs argv[0] (looked up in PATH when it has no '/') with the arguments
   argv (NULL-terminated), stdin /dev/null, stdout and stderr piped to
   o->output, in a new process group, and waits for it. While it waits,
   SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked in the calling thread;
   one arriving kills the child's group and is reported in
   r->interrupted (then the caller cleans up and may raise it again with
   oci_run_reraise); one already pending when the call starts (the caller
   held them) counts too. The child starts with them unblocked. A timeout kills
   the group too. A non-zero exit is not an error here: read r. Returns OCI_OK,
   or OCI_EIO when the program cannot be started (message names it and errno),
   OCI_ECANCELED when the output callback stopped it. r is the caller's. */
OCI_API int oci_run_process(const char *const *argv, const oci_run_options *o,
                            oci_run_result *r, oci_error *err);

/** A process started by oci_run_start (opaque; oci_run_finish frees it). */
typedef struct oci_run_proc oci_run_proc;

/** Starts argv as oci_run_process does (PATH lookup, stdin /dev/null,
   stdout and stderr piped, a new process group) and returns at once, so
   that a caller can run several and pump each in turn (oci_run_pump). No
   signal is blocked or waited for here: a caller that wants SIGINT and the
   like to end the children cleanly blocks them itself, polls for them and
   calls oci_run_finish (the child starts with them unblocked). *out is the
   caller's, freed by oci_run_finish; NULL on failure. Returns OCI_OK,
   OCI_EIO when the program cannot be started, OCI_EINVAL on an empty
   argv, OCI_ENOMEM. o's strings and output context must outlive p. */
OCI_API int oci_run_start(const char *const *argv, const oci_run_options *o,
                          oci_run_proc **out, oci_error *err);

/** Waits up to timeout_ms for output of p and hands what came to
   o->output; *done becomes true when both pipes are closed (the child has
   ended or closed them), when o->timeout has passed (the group is killed,
   r->timed_out) or when p was already done. Returns OCI_OK, OCI_EIO
   (poll), OCI_ECANCELED when the output callback stopped it (the group is
   killed, *done true). */
OCI_API int oci_run_pump(oci_run_proc *p, int timeout_ms, bool *done,
                         oci_error *err);

/** Ends p: kills its group when its pipes are still open, waits for the
   child, fills *r (may be NULL; r->interrupted stays 0) and frees p. NULL
   p: *r is zeroed. */
OCI_API void oci_run_finish(oci_run_proc *p, oci_run_result *r);

/** Raises sig in the calling process with its default action (used after
   cleanup to end as the interrupted process would have). Returns only if
   the signal does not end the process. */
OCI_API void oci_run_reraise(int sig);

/** Mounts overlayfs at target: lowerdir=lower (read-only), upperdir=upper,
   workdir=work (empty directories on one file system), with redirect_dir,
   index and metacopy off so that the upper directory holds whole files.
   Needs CAP_SYS_ADMIN. Returns OCI_OK, or OCI_EUNSUPPORTED (no overlayfs,
   or not permitted) / OCI_EIO with the mount error. */
OCI_API int oci_run_mount_overlay(const char *lower, const char *upper,
                                  const char *work, const char *target,
                                  oci_error *err);

/** Unmounts target (lazily when busy). OCI_OK or OCI_EIO. */
OCI_API int oci_run_unmount(const char *target, oci_error *err);

/** Turns an overlayfs upper directory (unmounted) into the tree of an
   image-spec layer changeset, in place: a whiteout (a character device
   0:0) becomes an empty file ".wh.NAME", a directory marked opaque
   (xattr trusted.overlay.opaque or user.overlay.opaque = "y") gets an
   empty ".wh..wh..opq", and every xattr named "trusted.overlay.NAME" or
   "user.overlay.NAME" is removed. Never follows a symbolic link (every step is
   made relative to a directory opened with O_NOFOLLOW). A name that already
   starts with ".wh." in the upper directory is refused (OCI_EINVAL): the
   command made a file the layer could not tell from a whiteout. Returns
   OCI_OK, or OCI_EIO / OCI_EINVAL naming the path. */
OCI_API int oci_run_upper_to_changeset(const char *upper, oci_error *err);

/** For a snapshot comparison (lower: the tree before the step, upper: the
   same tree after it, two copies): finds the regular files whose size,
   mode, owner and mtime are equal in both trees but whose content differs
   (compared byte by byte), and moves such a file's mtime in upper by one
   nanosecond, so that a comparison of metadata (oci_layer_build's lower
   and upper source) sees the change. Never follows a symbolic link (every
   step is relative to a directory opened with O_NOFOLLOW). A name in upper
   that starts with ".wh." (anywhere, new directories included) is refused
   (OCI_EINVAL), as oci_run_upper_to_changeset refuses it: the unpacked
   lower tree never holds one, and the layer could not tell the command's
   file from a whiteout. A regular file of this (non-root) process's own
   that its mode makes unreadable (Fedora's /etc/shadow, mode 0000: a
   rootless caller owns both trees but has no CAP_DAC_OVERRIDE) is read
   by lending the owner's read bit for the open, its mode given back at
   once. *changed (may be NULL) counts the files marked.
   Returns OCI_OK, or OCI_EIO / OCI_EINVAL naming the path. */
OCI_API int oci_run_mark_content_changes(const char *lower, const char *upper,
                                         size_t *changed, oci_error *err);

/** Whether this process can create a user namespace, as a rootless RUN
   step needs (the runtime makes one to map the caller's id to root):
   /proc/sys/user/max_user_namespaces must not be 0, Debian's
   /proc/sys/kernel/unprivileged_userns_clone (when present) must not be
   0 for a non-root caller, and a forked child's unshare(CLONE_NEWUSER)
   must succeed (seccomp, a container without the permission, a used-up
   limit). Returns OCI_OK, or OCI_EUNSUPPORTED with a message naming what
   is missing. */
OCI_API int oci_run_userns_check(oci_error *err);

#ifdef __cplusplus
}
#endif

#endif
