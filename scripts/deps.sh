#!/usr/bin/env bash
# Installs the Debian 12 packages a group of tasks needs, skipping those already present.
# Usage: scripts/deps.sh build|test|bench|package|image ...   (as root, or with sudo available)
set -euo pipefail

build=(build-essential cmake ninja-build pkg-config libnghttp2-dev libpoco-dev libspdlog-dev
       libsqlite3-dev libssl-dev libexpected-dev libgtest-dev libgmock-dev libargon2-dev libldap-dev libmstch-dev libyaml-cpp-dev openssl)
# clang + libclang-rt-dev: the TURN fuzzer (libFuzzer and the sanitizer runtimes come with
# libclang-rt-dev, which clang only recommends); llvm: llvm-symbolizer for its stack traces.
# coturn: its turnutils_* clients test the built-in TURN server (its own service stays off).
# slapd + ldap-utils: the LDAP directory tests start their own throwaway slapd (the package's
# service stays off).
# fail2ban: its fail2ban-regex checks the shipped filter against real sign-in log lines.
# apache2: a throwaway instance (own config dir, loopback ports) runs the Univention app's
# reverse-proxy configuration in front of palaverd; shellcheck lints the app's scripts.
# pebble: Let's Encrypt's ACME test CA (pebble + pebble-challtestsrv) for the ACME tests, which
# start their own (the package has no service).
# prometheus: its promtool checks /metrics and the sample alert rules (the server stays off).
# testssl.sh: the TLS audit of the HTTPS and TURN TLS ports (tests/integration/test_tls_audit.py).
test=(curl nghttp2-client python3 procps iproute2 chromium clang libclang-rt-dev llvm coturn slapd ldap-utils fail2ban
      apache2 shellcheck pebble prometheus testssl.sh)
bench=(nginx caddy nghttp2-client procps)
# The .deb (./dev package): debhelper and lintian. Its test (tests/integration/test_package.py)
# also installs it into a fresh Debian 12 tree (mmdebstrap with Debian's archive keyring) and
# boots that with systemd-nspawn (systemd-container).
package=(debhelper dpkg-dev fakeroot lintian)
test+=("${package[@]}" mmdebstrap systemd-container debian-archive-keyring)
# The appliance image (appliance/image/build.sh) and its boot test (tests/integration/test_image.py):
# the ESP made with mkfs.fat and filled with mtools (no mounts), sfdisk's GPT, qemu-img's qcow2,
# and QEMU (TCG) with OVMF's UEFI firmware to boot it.
image=(mmdebstrap debian-archive-keyring dosfstools mtools fdisk e2fsprogs qemu-utils qemu-system-x86 ovmf)
test+=("${image[@]}")

want=()
for group in "$@"; do
  case "$group" in
    build) want+=("${build[@]}") ;;
    test) want+=("${test[@]}") ;;
    bench) want+=("${bench[@]}") ;;
    package) want+=("${package[@]}") ;;
    image) want+=("${image[@]}") ;;
    *) echo "deps.sh: unknown group '$group' (build, test, bench, package, image)" >&2; exit 2 ;;
  esac
done

# Node.js and npm build the web apps (webui/) and run the JavaScript test clients; a machine may
# already have them from elsewhere (e.g. NodeSource), in which case Debian's packages are not wanted.
for group in "$@"; do
  if { [ "$group" = build ] || [ "$group" = test ]; } && ! { command -v node >/dev/null && command -v npm >/dev/null; }; then
    want+=(nodejs npm)
  fi
done

missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Reference servers for benchmarks, coturn, slapd, fail2ban, apache2 and prometheus (whose
# clients and binaries the tests use) must not start as system services: coturn's would take port
# 3478 from palaverd's built-in TURN server, slapd's would listen on 389 with a database nobody
# uses, and prometheus would listen on 9090 and scrape nothing.
if printf '%s\n' "${missing[@]}" | grep -qE '^(nginx|caddy|coturn|slapd|fail2ban|apache2|prometheus)$'; then
  $sudo mkdir -p /usr/sbin
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f '"$policy" EXIT
  fi
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
for service in coturn slapd fail2ban apache2 prometheus; do
  if printf '%s\n' "${missing[@]}" | grep -qx "$service" && command -v systemctl >/dev/null; then
    $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done
