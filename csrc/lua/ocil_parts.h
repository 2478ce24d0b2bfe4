/* Pieces of the ocispec.core Lua module (Lua 5.4) for the string grammars,
   digests and image references. luaopen_ocispec_core calls each
   ocil_push_*_lib once; each pushes one table and returns 1:
     core.check     = ocil_push_check_lib(L)
     core.digest    = ocil_push_digest_lib(L)
     core.reference = ocil_push_reference_lib(L)
     core.layer     = ocil_push_layer_lib(L)      (OCI_WITH_IMAGE only)
     core.layout    = ocil_push_layout_lib(L)     (OCI_WITH_IMAGE only)
     core.unpack    = ocil_push_unpack_lib(L)     (OCI_WITH_IMAGE only)
     core.registry  = ocil_push_registry_lib(L)   (OCI_WITH_REGISTRY only)
     core.fs        = ocil_push_fs_lib(L)
     core.run       = ocil_push_run_lib(L)        (OCI_WITH_IMAGE only)
      core.values    = ocil_push_values_lib(L, types)
   (core.digest's hashing and core.fs.read_in_root: OCI_WITH_IMAGE only.)
   Data errors return nil, message, err (an error table, binding.h);
   misuse (a non-string argument) raises through luaL_check*. */
#ifndef OCISPEC_LUA_PARTS_H
#define OCISPEC_LUA_PARTS_H

#include <lua.h>
#include <stdint.h>

#include "ocispec/error.h"

struct oci_image_descriptor;

/* Metatable (luaL_newmetatable name) of Reference userdata. */
#define OCIL_REFERENCE_MT "ocispec.distribution.Reference"

int ocil_push_check_lib(lua_State *L);
int ocil_push_digest_lib(lua_State *L);
int ocil_push_reference_lib(lua_State *L);
int ocil_push_unpack_lib(lua_State *L);
int ocil_push_layer_lib(lua_State *L);
/* core.layer.transform and its metatables (l_layer_transform.c) */
int ocil_layer_transform(lua_State *L);
void ocil_layer_transform_register(lua_State *L);
int ocil_push_layout_lib(lua_State *L);   /* core.layout (l_layout.c) */
int ocil_push_registry_lib(lua_State *L); /* core.registry (l_registry.c) */
int ocil_push_fs_lib(lua_State *L);       /* core.fs (l_fs.c) */
struct oci_id_map;
/* Options table t's `key`: a list of "CONTAINER:HOST[:SIZE]" id mappings,
   parsed into an array held by a userdata left on the stack (it lives as
   long as the call). Not a list of strings: raises; a bad mapping: its
   error in *err (returned). Absent: *n = 0, nothing pushed. (l_unpack.c) */
int ocil_id_maps(lua_State *L, int t, const char *key,
                 const struct oci_id_map **out, size_t *n, oci_error *err);
/* Pieces of core.layer shared by l_layer.c, l_layer_transform.c and
   l_imgread.c (defined in l_layer.c; OCI_WITH_IMAGE only). */
struct oci_layer_info;
struct oci_layer_result;
/* Optional string field `field` of the table at idx: NULL when absent.
   Raises "<fname>: <ctx><field> must be a string, got <type>", and, when
   len is NULL (a C string is wanted), "... holds a NUL byte" (the C side
   would silently cut it). The string stays referenced by the table, which
   the caller keeps on the stack; *len (when given) gets its length. */
const char *ocil_opt_string(lua_State *L, int idx, const char *fname,
                            const char *ctx, const char *field, size_t *len);
/* Optional integer field: 0 and *has = 0 when absent; raises
   "<fname>: <ctx><field> must be an integer, got <type or a fraction>". */
lua_Integer ocil_opt_integer(lua_State *L, int idx, const char *fname,
                             const char *ctx, const char *field, int *has);
/* The `level` option of layer.build and layer.transform (has: it was
   given): absent, *out is left as it is (0, the codec's default); 1 to 99
   go to *out (each codec checks its own range); anything else is
   OCI_EINVAL, "layer compression level N is out of range ...", in *err
   (returned). */
int ocil_layer_level(lua_Integer level, int has, int *out, oci_error *err);
/* The `threads` option of the table at idx (layer.build, layer.transform;
   fname names the function): nil or "auto" -> OCI_LAYER_THREADS_AUTO, an
   integer 0 to OCI_LAYER_THREADS_MAX as it is; another integer or string
   fills err (OCI_EINVAL) and returns its code; another type raises. */
int ocil_layer_threads(lua_State *L, int idx, const char *fname, int *out,
                       oci_error *err);
/* Pushes a new table with an entry row's fields: path, type, mode, uid,
   gid, mtime, size, the target (under target_key: "target" or
   "linkname") when there is one, major and minor for a device; `extra`:
   how many more fields the caller sets (a size hint). */
void ocil_push_layer_info(lua_State *L, const struct oci_layer_info *it,
                          const char *target_key, int extra);
/* Pushes a new table with a written layer's fields: diff_id, digest, size,
   media_type, path, uncompressed_size, entry_count (extra: as above). */
void ocil_push_layer_result(lua_State *L, const struct oci_layer_result *r,
                            const char *path, int extra);
/* core.image_reader (l_imgread.c; OCI_WITH_IMAGE only) */
int ocil_push_image_reader_lib(lua_State *L);
int ocil_push_run_lib(lua_State *L); /* core.run (l_run.c) */
/* core.values (l_values.c); types_idx: the core.types table */
int ocil_push_values_lib(lua_State *L, int types_idx);

/* The open Layout userdata (core.layout) at idx; raises when idx holds
   something else or a closed layout (defined in l_layout.c). */
struct oci_layout *ocil_check_layout(lua_State *L, int idx);
/* Arguments and results shared by l_layout.c and l_registry.c (defined in
   l_layout.c): a string argument without NUL bytes (nil allowed when opt,
   then NULL); a digest string or a Descriptor (*size: its size, else -1);
   pushes d as a Descriptor root (owned by Lua from then on), returns 1. */
const char *ocil_arg_str(lua_State *L, int idx, const char *what, int opt);
const char *ocil_arg_digest(lua_State *L, int idx, int64_t *size);
int ocil_push_desc(lua_State *L, struct oci_image_descriptor *d);

/* The field "platform" of the options table at idx (none, nil: all NULL),
   a table {os=, architecture=, variant=} or an image.Platform, into *p; its
   strings stay on the stack until the C function returns (l_layout.c). */
struct oci_layout_platform;
void ocil_arg_platform(lua_State *L, int idx, struct oci_layout_platform *p);

/* Counts a call in progress that uses the Layout at idx (delta +1 / -1):
   close() raises meanwhile. */
void ocil_layout_use(lua_State *L, int idx, int delta);

/* Shared by the three files (defined in l_strcheck.c). */

/* Pushes nil, err->message, the error table (ocil_error_table: its code,
   pointer and position); returns 3. Raises on OCI_ENOMEM. */
int ocil_parts_push_error(lua_State *L, const oci_error *err);

/* String argument idx for a C function that wants a NUL-terminated string:
   raises if it is not a string; returns 0 with *out set, or OCI_EINVAL with
   err filled when it holds a NUL (the C side would silently cut it). */
int ocil_parts_cstring(lua_State *L, int idx, const char *what,
                       const char **out, oci_error *err);

/* The body of a Lua function f(path) -> true or nil, message, err that
   calls op on its one string argument (named `what` in errors). */
int ocil_parts_path_op(lua_State *L, const char *what,
                       int (*op)(const char *path, oci_error *err));

#endif
