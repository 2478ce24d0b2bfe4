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

/* Opens the directory at the first len bytes of rel (a cleaned path; 0 =
   rootfd itself, duplicated) below rootfd, one component at a time with
   O_DIRECTORY | O_NOFOLLOW, into *out. With create, missing directories
   are made (0755); without, a missing or non-directory component gives
   *out = -1 and OCI_OK. A symbolic link on the way is OCI_EINVAL, a file
   on the way (with create) too; both name `shown`. */
int up_open_dir(int rootfd, const char *rel, size_t len, bool create, int *out,
                const char *shown, oci_error *err);

/* Removes name in the directory parent and everything below it, never
   following a link; missing is OCI_OK. Refuses a name that is not
   up_component_ok (OCI_EINVAL). Errors name `shown`. */
int up_remove_at(int parent, const char *name, const char *shown,
                 oci_error *err);

#endif
