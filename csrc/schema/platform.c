/* Host platform in Go's spellings, decided at compile time. */
#include "ocispec/platform.h"
#include "ocispec/values.h"

#include <stddef.h>
#include <string.h>

const char *oci_host_arch(void) {
#if defined(__x86_64__)
  return OCI_ENUM_STR(GO_ARCH, Amd64);
#elif defined(__i386__)
  return OCI_ENUM_STR(GO_ARCH, i386);
#elif defined(__aarch64__)
#if defined(__AARCH64EB__)
  return OCI_ENUM_STR(GO_ARCH, ARM64be);
#else
  return OCI_ENUM_STR(GO_ARCH, ARM64);
#endif
#elif defined(__arm__)
  return OCI_ENUM_STR(GO_ARCH, ARM);
#elif defined(__powerpc64__)
#if defined(__LITTLE_ENDIAN__)
  return OCI_ENUM_STR(GO_ARCH, PowerPC64le);
#else
  return OCI_ENUM_STR(GO_ARCH, PowerPC64);
#endif
#elif defined(__s390x__)
  return OCI_ENUM_STR(GO_ARCH, s390x);
#elif defined(__riscv) && __riscv_xlen == 64
  return OCI_ENUM_STR(GO_ARCH, RISCV64);
#elif defined(__loongarch64)
  return OCI_ENUM_STR(GO_ARCH, LoongArch64);
#elif defined(__mips64)
#if defined(__MIPSEL__)
  return OCI_ENUM_STR(GO_ARCH, Mips64le);
#else
  return OCI_ENUM_STR(GO_ARCH, Mips64);
#endif
#elif defined(__mips__)
#if defined(__MIPSEL__)
  return OCI_ENUM_STR(GO_ARCH, Mipsle);
#else
  return OCI_ENUM_STR(GO_ARCH, Mips);
#endif
#else
  return "unknown";
#endif
}

const char *oci_host_os(void) {
#if defined(__linux__)
  return OCI_ENUM_STR(GO_OS, Linux);
#elif defined(__FreeBSD__)
  return OCI_ENUM_STR(GO_OS, FreeBSD);
#elif defined(__NetBSD__)
  return OCI_ENUM_STR(GO_OS, NetBSD);
#elif defined(__OpenBSD__)
  return OCI_ENUM_STR(GO_OS, OpenBSD);
#elif defined(__APPLE__)
  return OCI_ENUM_STR(GO_OS, Darwin);
#elif defined(_WIN32)
  return OCI_ENUM_STR(GO_OS, Windows);
#else
  return "unknown";
#endif
}

const char *oci_host_variant(void) {
#if defined(__aarch64__)
  return "v8";
#elif defined(__ARM_ARCH) && __ARM_ARCH == 7
  return "v7";
#elif defined(__ARM_ARCH) && __ARM_ARCH == 6
  return "v6";
#else
  return NULL;
#endif
}

static bool same(const char *want, const char *have) {
  return !want || (have && strcmp(want, have) == 0);
}

bool oci_platform_matches(const char *want_os, const char *want_arch,
                          const char *want_variant, const char *os,
                          const char *arch, const char *variant) {
  return same(want_os, os) && same(want_arch, arch) &&
         (!want_variant || !variant || strcmp(want_variant, variant) == 0);
}
