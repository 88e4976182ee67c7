#!/usr/bin/env bash
# Installs the Debian bookworm packages that Sluice's build, tests and benchmarks need.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

packages=(
  # Toolchain.
  build-essential cmake ninja-build pkg-config git
  # clang with its runtimes: the libFuzzer target and the sanitizer builds.
  clang libclang-rt-14-dev
  # Libraries (find_package / pkg-config).
  libsimdjson-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libboost-dev liburing-dev libssl-dev libyaml-cpp-dev
  libxxhash-dev  # the relays' payload checksum (dataplane/end_marker.h), XXH3 inlined
  # Tests and benchmarks: socat is the competitor and an interop peer.
  socat coreutils procps iproute2 python3 gnuplot-nox openssl
  valgrind  # bench/inspector_ab.py counts instructions with callgrind
  # Container images and real pods (deploy/): podman with runc.
  podman runc catatonit  # catatonit: the pause process of the pods `podman kube play` makes
)

# podman's settings for these machines, unless the machine has its own: runc (crun fails on
# hybrid cgroups), and no default ulimits (raising RLIMIT_NOFILE needs CAP_SYS_RESOURCE, which a
# sandbox may lack). Written once; an existing containers.conf is left as it is.
configure_podman() {
  local conf=/etc/containers/containers.conf
  [[ -e $conf ]] && return 0
  local sudo_cmd=()
  if ((EUID != 0)); then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' |
    "${sudo_cmd[@]}" tee "$conf" >/dev/null
  echo "install-deps: wrote $conf (runc, no default ulimits)"
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  configure_podman
  exit 0
fi

sudo_cmd=()
if ((EUID != 0)); then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
configure_podman
