/** @file
   The platform this library was built for, in Go's GOARCH/GOOS spellings
   (the values image-spec's platform fields use). */
#ifndef OCISPEC_PLATFORM_H
#define OCISPEC_PLATFORM_H

#include <stdbool.h>

#include "ocispec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** "amd64", "arm64", "ppc64le", ... (static strings). */
OCI_API const char *oci_host_arch(void);
/** "linux", "freebsd", "darwin", ... (static strings). */
OCI_API const char *oci_host_os(void);
/** The ARM variant ("v7", "v8"...) or NULL when none applies. */
OCI_API const char *oci_host_variant(void);

/** Whether an index entry's platform (os, arch, variant; NULL: absent)
   suits the one wanted (want_*; NULL: any). The one rule of the library:
   oci_layout_resolve and oci_registry_pull both use it. os and
   architecture must be equal (image-index.md "platform"); the variant is
   compared only when both sides name one, so "linux/amd64/v2" accepts a
   plain "linux/amd64" entry, and "linux/amd64" any variant. */
OCI_API bool oci_platform_matches(const char *want_os, const char *want_arch,
                                  const char *want_variant, const char *os,
                                  const char *arch, const char *variant);

#ifdef __cplusplus
}
#endif
#endif
