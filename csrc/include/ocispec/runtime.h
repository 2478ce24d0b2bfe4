/* runtime-spec helpers: default configurations and their parts. */
#ifndef OCISPEC_RUNTIME_H
#define OCISPEC_RUNTIME_H

#include <stdint.h>

#include "ocispec/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The configuration `runc spec` writes: a shell in a read-only rootfs with
   the default mounts, namespaces, capabilities, masked and read-only
   paths. New document; free with oci_runtime_spec_free. */
OCI_API int oci_runtime_spec_default(oci_runtime_spec **out, oci_error *err);

/* The configuration `runc spec --rootless` writes for a user and group:
   no network namespace but a user namespace mapping root to uid/gid, no
   cgroup resources, /sys bind-mounted, no gid=5 on /dev/pts. */
OCI_API int oci_runtime_spec_rootless(uint32_t uid, uint32_t gid,
                                      oci_runtime_spec **out, oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
