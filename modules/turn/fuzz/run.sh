#!/usr/bin/env bash
# Builds the TURN core's libFuzzer target with clang++ (ASan + UBSan) and runs it for a bounded
# time on a copy of the seed corpus. Separate from the project's gcc build on purpose.
#
# Usage: modules/turn/fuzz/run.sh [SECONDS]        (default 60)
# Environment:
#   FUZZ_BUILD_DIR  where objects, the binary, the working corpus and crashes go
#                   (default: a fresh temporary directory, removed afterwards unless it crashed)
#   CLANGXX         the compiler (default: clang++)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-jobs=2 -workers=2" or "-max_len=8192"
# Needs Debian's clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes; clang only
# recommends it), plus the build dependencies (libssl-dev, libspdlog-dev, libexpected-dev);
# llvm gives llvm-symbolizer for readable stack traces. scripts/deps.sh test installs them.
# Exit status: 0 when the run ended without a finding, non-zero on a crash, sanitizer report,
# timeout, OOM or a failed build. Findings are saved as $FUZZ_BUILD_DIR/crashes/<kind>-<sha1>;
# replay one with: $FUZZ_BUILD_DIR/turn_fuzz $FUZZ_BUILD_DIR/crashes/crash-...
set -euo pipefail

secs=${1:-60}
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
turn=$(cd "$here/.." && pwd)
root=$(cd "$turn/../.." && pwd)
cxx=${CLANGXX:-clang++}

tmp_build=""
if [ -n "${FUZZ_BUILD_DIR:-}" ]; then
  build=$FUZZ_BUILD_DIR
  mkdir -p "$build"
else
  build=$(mktemp -d "${TMPDIR:-/tmp}/turn_fuzz.XXXXXX")
  tmp_build=$build
fi
build=$(cd "$build" && pwd)

command -v "$cxx" >/dev/null || { echo "turn_fuzz: $cxx not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
command -v pkg-config >/dev/null || { echo "turn_fuzz: pkg-config not found" >&2; exit 1; }

# The sans-I/O core (what the target links; the relay engine's sockets, TLS and threads are not
# part of it), plus the SDK pieces it uses (PALAVER_CHECK's handler, base64). A new file that
# server.cpp or auth.cpp starts to depend on goes here too: the link then says what is missing.
core=(address.cpp stun.cpp auth.cpp peer_policy.cpp allocations.cpp server.cpp)
sources=()
for f in "${core[@]}"; do sources+=("$turn/src/$f"); done
sources+=("$root/appliance/sdk/src/check.cpp" "$root/appliance/sdk/src/encoding.cpp" "$here/turn_fuzz.cpp")

# Warnings on, but not -Werror: the project's -Werror build is gcc's; a clang-only warning in code
# that gcc accepts must not fail the fuzz run.
cxxflags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS
          -fno-sanitize-recover=all
          -Wall -Wextra -Wpedantic -Wno-missing-field-initializers
          -I"$turn/src" -I"$root/appliance/sdk/include")
read -r -a spdlog_cflags <<<"$(pkg-config --cflags spdlog)"
read -r -a libs <<<"$(pkg-config --libs spdlog libcrypto)"
cxxflags+=("${spdlog_cflags[@]}")
# Coverage instrumentation (fuzzer-no-link) and sanitizers on every object; libFuzzer's main is
# linked in at the end (-fsanitize=fuzzer).
compile=(-fsanitize=fuzzer-no-link,address,undefined "${cxxflags[@]}")
link=(-fsanitize=fuzzer,address,undefined)

# Rebuild only when the compiler, a flag, or a file the objects were built from (the sources and
# every header they included, from the compiler's depfiles) changed.
bin=$build/turn_fuzz
stamp_of() {
  { "$cxx" --version; printf '%s\n' "${compile[@]}" "${link[@]}" "${libs[@]}" "${sources[@]}"
    if [ -s "$build/deps" ]; then
      while read -r f; do cat "$f" 2>/dev/null || echo "missing $f"; done <"$build/deps"
    else
      echo "no deps"
    fi; } | sha256sum | cut -c1-64
}
if [ -x "$bin" ] && [ -s "$build/deps" ] && [ "$(cat "$build/stamp" 2>/dev/null)" = "$(stamp_of)" ]; then
  echo "turn_fuzz: up to date: $bin"
else
  echo "turn_fuzz: building $bin with $("$cxx" --version | head -1)"
  rm -rf "$bin" "$build/stamp" "$build/deps" "$build/obj"
  mkdir -p "$build/obj"
  objs=()
  pids=()
  for src in "${sources[@]}"; do
    obj="$build/obj/$(basename "$(dirname "$src")")_$(basename "$src" .cpp).o"
    objs+=("$obj")
    "$cxx" "${compile[@]}" -MMD -c "$src" -o "$obj" &
    pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then  # two cores
      wait "${pids[0]}" || { echo "turn_fuzz: compile failed" >&2; wait; exit 1; }
      pids=("${pids[@]:1}")
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid" || { echo "turn_fuzz: compile failed" >&2; wait; exit 1; }; done
  if ! "$cxx" "${link[@]}" "${objs[@]}" "${libs[@]}" -o "$bin"; then
    echo "turn_fuzz: link failed (libFuzzer's runtime comes with libclang-rt-14-dev)" >&2
    exit 1
  fi
  sed -e 's/^[^:]*://' -e 's/\\$//' "$build"/obj/*.d | tr -s ' ' '\n' | sed '/^$/d' | sort -u >"$build/deps"
  stamp_of >"$build/stamp"
fi

# Work on a copy of the seeds; what the fuzzer adds stays in $build/corpus for the next run.
mkdir -p "$build/corpus" "$build/crashes"
cp "$here"/corpus/* "$build/corpus/"

symbolizer=$(command -v llvm-symbolizer || ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | head -1 || true)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$symbolizer

log=$build/fuzz.log
echo "turn_fuzz: fuzzing for ${secs}s (log: $log)"
read -r -a extra <<<"${FUZZ_ARGS:-}"
set +e
"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$build/crashes/" "${extra[@]}" "$build/corpus" >"$log" 2>&1
status=$?
set -e

stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
execs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
rss=$(stat peak_rss_mb)
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")

if [ "$status" -eq 0 ]; then
  echo "turn_fuzz: ok: ${secs}s, ${execs:-?} execs (${rate:-?}/s), cov ${cov:-?} edges, ft ${ft:-?}, corpus ${corp:-?}, peak rss ${rss:-?} MB"
  [ -n "$tmp_build" ] && rm -rf "$tmp_build"
  exit 0
fi
echo "turn_fuzz: FAILED (exit $status) after ${execs:-?} execs, cov ${cov:-?}; last 60 lines of $log:" >&2
tail -n 60 "$log" >&2
found=$(ls -t "$build"/crashes/ 2>/dev/null | head -5)
if [ -n "$found" ]; then
  echo "turn_fuzz: findings in $build/crashes/: $(echo $found)" >&2
  echo "turn_fuzz: replay: $bin $build/crashes/<file>" >&2
fi
exit "$status"
