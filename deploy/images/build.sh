#!/usr/bin/env bash
# Builds Sluice's container images offline with podman, from binaries already built:
#
#   deploy/images/build.sh [BUILD_DIR] [TAG]      # default: build/release, dev
#
#   localhost/sluice-relay:TAG            sluice-relay, sluice-entrypoint (relay.Containerfile)
#   localhost/sluice:TAG                  sluice and sluice-relay: the orchestrator, to run in a
#                                         cluster (sluice.Containerfile, deploy/kubernetes/)
#   localhost/sluice-test-connectors:TAG  sluice-test-source and        (connectors.Containerfile)
#                                         sluice-test-destination
#
# Nothing is pulled from a registry: each image is FROM scratch, with the binaries and exactly
# the shared libraries `ldd` lists for them (and the dynamic loader) copied in.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/release}" && pwd)
tag=${2:-dev}
command -v podman >/dev/null || { echo "build.sh: podman is not installed (scripts/install-deps.sh installs it)" >&2; exit 2; }

# stage DIR BINARY...: the binaries in DIR/usr/local/bin, their libraries at their own paths.
stage() {
  local dir=$1
  shift
  mkdir -p "$dir/usr/local/bin"
  for binary in "$@"; do
    [[ -x $binary ]] || { echo "build.sh: missing $binary: build it first (cmake --build $build)" >&2; exit 2; }
    cp "$binary" "$dir/usr/local/bin/"
    for lib in $(ldd "$binary" 2>/dev/null | grep -o '/[^ ]*' || true); do  # none: static
      mkdir -p "$dir$(dirname "$lib")"
      cp -L "$lib" "$dir$lib"
    done
  done
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The relay image also carries sluice-entrypoint, which its init container installs into the
# pod's shared volume for the connector's main container.
stage "$work/relay" "$build/dataplane/sluice-relay" "$build/dataplane/sluice-entrypoint"
# The orchestrator runs its own relay (the destination's echoes come back through it).
stage "$work/sluice" "$build/orchestrator/sluice" "$build/dataplane/sluice-relay"
stage "$work/connectors" "$build/tests/sluice-test-source" "$build/tests/sluice-test-destination"
podman build -q -f "$here/relay.Containerfile" -t "localhost/sluice-relay:$tag" "$work/relay"
podman build -q -f "$here/sluice.Containerfile" -t "localhost/sluice:$tag" "$work/sluice"
podman build -q -f "$here/connectors.Containerfile" -t "localhost/sluice-test-connectors:$tag" \
  "$work/connectors"
echo "built localhost/sluice-relay:$tag, localhost/sluice:$tag and localhost/sluice-test-connectors:$tag"
