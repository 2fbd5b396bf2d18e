#!/usr/bin/env bash
# Installs what krust needs on a fresh Debian 12 machine, only where it is missing.
#   install-deps.sh run   - to build and run the server
#   install-deps.sh test  - additionally what the tests need (Python client, ...)
set -euo pipefail

mode="${1:-run}"
need_apt=()

have() { command -v "$1" >/dev/null 2>&1; }

have cc || need_apt+=(build-essential)
have pkg-config || need_apt+=(pkg-config)
have python3 || need_apt+=(python3)
# The CRI client is generated from its .proto at build time.
have protoc || need_apt+=(protobuf-compiler)
# The node agent: containerd and runc run the containers, the CNI plugins give pods their
# network (bridge + host-local + portmap, which use iptables), busybox-static becomes the
# pod sandbox image, mount/umount probe overlayfs.
have containerd || need_apt+=(containerd)
have runc || need_apt+=(runc)
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
have iptables || need_apt+=(iptables)
dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)
have nft || need_apt+=(nftables)
have ip || need_apt+=(iproute2)
if [ "$mode" = "test" ]; then
  have pip3 || have pip || python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
  # Certificates for the test webhook and extension API servers.
  have openssl || need_apt+=(openssl)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing system packages: ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing packages (${need_apt[*]}) and not root; install them or re-run as root" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! have cargo; then
  echo "error: cargo (Rust 1.90 or newer) is required; see https://rustup.rs" >&2
  exit 1
fi

if [ "$mode" = "test" ]; then
  # The official Python client and the kopf operator framework live in a virtualenv under
  # target/ so that the system's Python packages are left alone.
  venv="target/pyvenv"
  if ! "$venv/bin/python" -c 'import kubernetes' >/dev/null 2>&1; then
    echo "installing the official Kubernetes Python client into $venv"
    python3 -m venv "$venv" 2>/dev/null || {
      if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      fi
      python3 -m venv "$venv"
    }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'kubernetes>=30'
  fi
  # kopf, for the end-to-end test that runs a kopf operator unchanged against krust.
  kopf_version="1.45.2"
  if ! "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('kopf') == '$kopf_version'" >/dev/null 2>&1; then
    echo "installing kopf $kopf_version into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "kopf==$kopf_version"
  fi
  if ! have kubectl; then
    echo "warning: kubectl is not on PATH; kubectl end-to-end tests will fail" >&2
  fi
  if ! cargo nextest --version >/dev/null 2>&1; then
    echo "note: cargo-nextest not found; tests run with cargo test" >&2
  fi
fi
