/* Shared by unpack.c and unpack_path.c: entry names and the descriptor
   based walk of a root file system that never follows a symbolic link. */
#ifndef OCISPEC_UNPACK_INTERNAL_H
#define OCISPEC_UNPACK_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "ocispec/error.h"

/* Normalises the tar name `name` into out (PATH_MAX bytes): components
   joined by one "/", leading "/" and "./", empty and "." components
   dropped ("" = the root). A ".." component, or a result longer than
   PATH_MAX - 1, is OCI_EINVAL naming `shown` (the entry). */
int up_clean(const char *name, char out[PATH_MAX], const char *shown,
             oci_error *err);

/* Whether the n bytes at c make one usable directory entry name: not
   empty, not "." or "..", no "/" and no NUL. */
bool up_component_ok(const char *c, size_t n);

/* A root file system being walked: its descriptor, and the last directory
   opened below it (entries come in directory order, so the next entry's
   parent is usually that one or just below it: without the cache a layer
   of deep paths costs a quadratic number of openat calls). */
typedef struct up_walk {
  int rootfd;
  int cache_fd;    /* -1: none */
  bool no_openat2; /* the kernel has none: walk component by component */
  size_t cache_len;
  char cache[PATH_MAX];
} up_walk;

/* Forgets the cached directory: call before removing anything. */
void up_walk_forget(up_walk *w);

/* Opens the directory at the first len bytes of rel (a cleaned path; 0 =
   the root itself, duplicated) below w->rootfd, one component at a time
   with O_DIRECTORY | O_NOFOLLOW (from the cached directory when it is a
   prefix; with openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS in one call
   where the kernel has it), into *out. With create, missing directories
   are made (0755); without, a missing, non-directory or symbolic link
   component gives *out = -1 and OCI_OK. With create, a symbolic link on
   the way is OCI_EINVAL (rel is the output of inroot_resolve: one there
   was swapped in since), a file on the way too; both name `shown`. */
int up_open_dir(up_walk *w, const char *rel, size_t len, bool create, int *out,
                const char *shown, oci_error *err);

/* Removes name in the directory parent and everything below it, never
   following a link; missing is OCI_OK. Refuses a name that is not
   up_component_ok (OCI_EINVAL). Errors name `shown`. */
int up_remove_at(int parent, const char *name, const char *shown,
                 oci_error *err);

#endif
