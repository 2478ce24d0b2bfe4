#!/usr/bin/env bash
# Install the Debian packages ocispec needs to build and test.
# Idempotent: installs only what dpkg says is missing; runs `apt-get update`
# only when something is missing. Non-interactive (CI-safe).
#
#   bash scripts/install-deps.sh            # install what is missing
#   bash scripts/install-deps.sh --check    # list missing packages, exit 1 if any
set -euo pipefail

PACKAGES=(
  # build
  cmake gcc clang clang-format pkg-config libssl-dev
  # hardening: libFuzzer and the clang sanitizer runtimes, TSan for gcc
  libclang-rt-14-dev libtsan2 python3
  # layers: libarchive built with zlib and zstd; the zstd tool, an oracle of
  # layer_spec and bench/layer.lua's peer (nothing else pulls it in)
  libarchive-dev zlib1g-dev libzstd-dev zstd
  # registry client
  libcurl4-openssl-dev
  # Lua 5.4 and its test tools
  liblua5.4-dev lua5.4 lua-cjson lua-busted lua-check luarocks
  # C tests, memory checking, test oracles
  libcmocka-dev valgrind python3-jsonschema libyajl-dev
  # API docs: LDoc (cmake target docs), doxygen (target docs-c)
  lua-ldoc doxygen
  # real peers: runc runs the bundles the runtime tests build
  runc busybox-static
  # real peers of the image pipeline: they read the layouts we write
  umoci skopeo oci-image-tool
  # peers of archives, builds and RUN steps (issue 15, 17): podman load/save,
  # buildah from/run/commit, crun beside runc, newuidmap for rootless, setcap
  # for file capabilities in layers, fuse-overlayfs where the kernel's is absent
  podman buildah crun uidmap libcap2-bin fuse-overlayfs
  # the registry tests: the CNCF distribution registry on 127.0.0.1,
  # htpasswd (bcrypt) for its basic-auth instance, openssl for the token
  # server's key and certificate
  docker-registry apache2-utils openssl
  # sync lists: lyaml reads skopeo's YAML sync files; node-semver is the
  # oracle of the semver range tests
  lua-yaml node-semver
  # benchmarks only: the untyped reference peer of `bench/run.sh --peers`
  libsimdjson14
)

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [ "$check_only" -eq 1 ]; then
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install-deps: not root and no password-less sudo; run as root:" >&2
    echo "  apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q update </dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install "${APT_OPTS[@]}" "${missing[@]}" </dev/null
echo "install-deps: installed ${missing[*]}"
