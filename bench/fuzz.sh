#!/usr/bin/env bash
# bench/fuzz.sh — the long fuzzing campaign: every libFuzzer target the build registers (ctest label
# `fuzz`, cmake/PalaverFuzz.cmake) runs until it has executed RUNS inputs or SECONDS passed,
# whichever comes first, on its committed seeds plus the corpus earlier runs grew (kept in
# <build>/fuzz/<target>/corpus). Prints one line per target (executions, exec/s, coverage edges,
# features, corpus size, crashes) and a Markdown table for docs/security.md.
#
# Usage: bench/fuzz.sh [--build DIR] [--runs N] [--seconds S] [--jobs J] [REGEX]
#   --build    the CMake build directory (default: build)
#   --runs     executions per target (default 10000000)
#   --seconds  time bound per target (default 7200)
#   --jobs     parallel fuzzing processes per target (libFuzzer -jobs/-workers, sharing the corpus;
#              default 1, which is what to use while other work shares the CPU). The runs bound is
#              for the target: each process runs RUNS/J inputs, and the figures are their sums
#   REGEX      only targets whose name matches (default: all)
# Exit status: non-zero when any target found something (crash, leak, sanitizer report, broken
# property, timeout, OOM); its finding is in <build>/fuzz/<target>/crashes/.
# Needs: a configured build (cmake -S . -B build) and scripts/deps.sh test (clang, libclang-rt-dev).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build runs=10000000 secs=7200 jobs=1 regex=.
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "bench/fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) regex=$1; shift ;;
  esac
done
[ -d "$build" ] || { echo "bench/fuzz.sh: no build directory $build (cmake -S . -B build)" >&2; exit 2; }

# The registered commands and environments, as ctest would run them.
mapfile -t targets < <(ctest --test-dir "$build" -L '^fuzz$' --show-only=json-v1 | python3 -c '
import json, re, shlex, sys
regex = re.compile(sys.argv[1])
for t in json.load(sys.stdin)["tests"]:
    if not regex.search(t["name"]):
        continue
    env = next((p["value"] for p in t.get("properties", []) if p["name"] == "ENVIRONMENT"), [])
    print("\t".join([t["name"], shlex.join(env), shlex.join(t["command"])]))
' "$regex")
[ ${#targets[@]} -gt 0 ] || { echo "bench/fuzz.sh: no fuzz target matches '$regex' in $build" >&2; exit 2; }

extra=""
[ "$jobs" -gt 1 ] && extra="-jobs=$jobs -workers=$jobs"
failed=0
rows=()
for line in "${targets[@]}"; do
  IFS=$'\t' read -r name env cmd <<<"$line"
  eval "set -- $cmd"
  # Replace the test's --seconds with the campaign's bound.
  args=()
  while [ $# -gt 0 ]; do
    if [ "$1" = --seconds ]; then args+=(--seconds "$secs"); shift 2; else args+=("$1"); shift; fi
  done
  started=$(date +%s)
  set +e
  out=$(eval "env $env FUZZ_RUNS=$(( (runs + jobs - 1) / jobs )) FUZZ_ARGS='$extra'" '"${args[@]}"' 2>&1)
  status=$?
  set -e
  took=$(( $(date +%s) - started ))
  summary=$(grep -E "^$name: (ok|FAILED)" <<<"$out" | tail -1)
  echo "$summary (wall ${took}s)"
  if [ "$status" -ne 0 ]; then
    failed=1
    tail -n 40 <<<"$out" >&2
  fi
  execs=$(sed -n 's/.* \([0-9][0-9]*\) execs.*/\1/p' <<<"$summary")
  rate=$(sed -n 's/.*execs (\([0-9]*\)\/s).*/\1/p' <<<"$summary")
  cov=$(sed -n 's/.*cov \([0-9]*\) edges.*/\1/p' <<<"$summary")
  ft=$(sed -n 's/.*ft \([0-9]*\),.*/\1/p' <<<"$summary")
  corp=$(sed -n 's/.*corpus \([0-9]*\),.*/\1/p' <<<"$summary")
  crashes=$([ "$status" -eq 0 ] && echo 0 || echo "FOUND (exit $status)")
  rows+=("| $name | ${execs:-?} | ${rate:-?} | ${took} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $crashes |")
done

echo
echo "Campaign: bench/fuzz.sh --runs $runs --seconds $secs --jobs $jobs ($(date -u +%Y-%m-%d), $(nproc) cores, $(clang++ --version | head -1))"
echo
echo "| target | executions | exec/s | seconds | coverage (edges) | features | corpus | crashes |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit "$failed"
