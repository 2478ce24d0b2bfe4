/* Host platform in Go's spellings, decided at compile time. */
#include "ocispec/platform.h"

#include <stddef.h>
#include <string.h>

const char *oci_host_arch(void) {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__i386__)
  return "386";
#elif defined(__aarch64__)
#if defined(__AARCH64EB__)
  return "arm64be";
#else
  return "arm64";
#endif
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__)
#if defined(__LITTLE_ENDIAN__)
  return "ppc64le";
#else
  return "ppc64";
#endif
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__loongarch64)
  return "loong64";
#elif defined(__mips64)
#if defined(__MIPSEL__)
  return "mips64le";
#else
  return "mips64";
#endif
#elif defined(__mips__)
#if defined(__MIPSEL__)
  return "mipsle";
#else
  return "mips";
#endif
#else
  return "unknown";
#endif
}

const char *oci_host_os(void) {
#if defined(__linux__)
  return "linux";
#elif defined(__FreeBSD__)
  return "freebsd";
#elif defined(__NetBSD__)
  return "netbsd";
#elif defined(__OpenBSD__)
  return "openbsd";
#elif defined(__APPLE__)
  return "darwin";
#elif defined(_WIN32)
  return "windows";
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
