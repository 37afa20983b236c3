#!/usr/bin/env bash
# ldap.sh — the directory's LDAP backend against a real slapd: sign-ins/s, address-book
# searches/s with p50/p99, cached vs. uncached (bench/ldap.py has the details).
# Usage: bench/ldap.sh [ldap.py options, e.g. --users 500 --requests 2000 --clients 4]
# Needs: a built palaverd-testbed (cmake --build build), slapd + ldap-utils (scripts/deps.sh test).
# Loopback only; every phase is bounded by a request count.
# Results: printed, and kept in docs/bench/ldap-<date>.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="$root/docs/bench/ldap-$(date -u +%F).txt"
mkdir -p "$root/docs/bench"
timeout 1800 python3 "$here/ldap.py" "$@" | tee "$out"
