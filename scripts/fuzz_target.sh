#!/usr/bin/env bash
# Builds one libFuzzer target with clang++ (ASan + UBSan, coverage) and runs it for a bounded time
# (and, with FUZZ_RUNS, a bounded number of executions) on a copy of its seed corpus. The one
# runner behind every fuzz target: cmake/PalaverFuzz.cmake's palaver_add_fuzz() registers each
# target as a ctest test calling this script, and bench/fuzz.sh runs the same commands for longer.
# Separate from the project's gcc build on purpose (libFuzzer is clang's).
#
# Usage: scripts/fuzz_target.sh --name NAME [--seconds N] --src FILE... [-I DIR]... [--pkg NAME]...
#                               [--lib FLAG]... [--seeds DIR]... [--max-len N] [--dict FILE]
#   --src       a source file of the target (the fuzzer's .cpp and the product files it links)
#   -I          an include directory
#   --pkg       a pkg-config package whose cflags and libs the target uses (e.g. spdlog, libcrypto)
#   --lib       a linker flag (e.g. -lPocoJSON)
#   --seeds     a directory of seed inputs (committed corpus)
# Environment:
#   FUZZ_BUILD_DIR  where objects, the binary, the working corpus and findings go
#                   (default: a temporary directory, removed afterwards unless the run failed)
#   CLANGXX         the compiler (default: clang++)
#   FUZZ_RUNS       stop after this many executions, per process (default: only the time bound)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
#   FUZZ_JOBS       parallel compiles (default 2)
# Exit status: 0 when the run ended without a finding; non-zero on a crash, a sanitizer report
# (UBSan is fatal: -fno-sanitize-recover=all), a leak, a broken property (the target aborts), a
# timeout (10 s per input), an OOM (2048 MB) or a failed build. Findings: $FUZZ_BUILD_DIR/crashes/.
# Needs clang, libclang-rt-dev (libFuzzer, sanitizer runtimes) and llvm (llvm-symbolizer):
# scripts/deps.sh test installs them.
set -euo pipefail

name="" secs=60 max_len="" dict=""
sources=() incs=() pkgs=() ldflags=() seeds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --src) sources+=("$2"); shift 2 ;;
    -I) incs+=("-I$2"); shift 2 ;;
    --pkg) pkgs+=("$2"); shift 2 ;;
    --lib) ldflags+=("$2"); shift 2 ;;
    --seeds) seeds+=("$2"); shift 2 ;;
    --max-len) max_len=$2; shift 2 ;;
    --dict) dict=$2; shift 2 ;;
    *) echo "fuzz_target.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$name" ] && [ ${#sources[@]} -gt 0 ] || { echo "usage: $0 --name NAME --src FILE... (see the header)" >&2; exit 2; }
case "$secs" in '' | *[!0-9]*) echo "$name: --seconds needs a number" >&2; exit 2 ;; esac
runs=${FUZZ_RUNS:-}
case "$runs" in *[!0-9]*) echo "$name: FUZZ_RUNS needs a number" >&2; exit 2 ;; esac

cxx=${CLANGXX:-clang++}
command -v "$cxx" >/dev/null || { echo "$name: $cxx not found (scripts/deps.sh test: clang libclang-rt-dev llvm)" >&2; exit 1; }
command -v pkg-config >/dev/null || { echo "$name: pkg-config not found" >&2; exit 1; }

tmp_build=""
if [ -n "${FUZZ_BUILD_DIR:-}" ]; then
  build=$FUZZ_BUILD_DIR
  mkdir -p "$build"
else
  build=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
  tmp_build=$build
fi
build=$(cd "$build" && pwd)

# Warnings on, but not -Werror: the project's -Werror build is gcc's; a clang-only warning in code
# gcc accepts must not fail the fuzz run.
cxxflags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS -fno-sanitize-recover=all
          -Wall -Wextra -Wno-missing-field-initializers "${incs[@]}")
libs=("${ldflags[@]}")
if [ ${#pkgs[@]} -gt 0 ]; then
  read -r -a pc_cflags <<<"$(pkg-config --cflags "${pkgs[@]}")"
  read -r -a pc_libs <<<"$(pkg-config --libs "${pkgs[@]}")"
  cxxflags+=("${pc_cflags[@]}")
  libs+=("${pc_libs[@]}")
fi
# Coverage instrumentation (fuzzer-no-link) and sanitizers on every object; libFuzzer's main is
# linked in at the end (-fsanitize=fuzzer).
compile=(-fsanitize=fuzzer-no-link,address,undefined "${cxxflags[@]}")
link=(-fsanitize=fuzzer,address,undefined)

# Rebuild only when the compiler, a flag, or a file the objects were built from (the sources and
# every header they included, from the compiler's depfiles) changed.
bin=$build/$name
stamp_of() {
  { "$cxx" --version; printf '%s\n' "${compile[@]}" "${link[@]}" "${libs[@]}" "${sources[@]}"
    if [ -s "$build/deps" ]; then
      while read -r f; do cat "$f" 2>/dev/null || echo "missing $f"; done <"$build/deps"
    else
      echo "no deps"
    fi; } | sha256sum | cut -c1-64
}
if [ -x "$bin" ] && [ -s "$build/deps" ] && [ "$(cat "$build/stamp" 2>/dev/null)" = "$(stamp_of)" ]; then
  echo "$name: up to date: $bin"
else
  echo "$name: building $bin with $("$cxx" --version | head -1)"
  rm -rf "$bin" "$build/stamp" "$build/deps" "$build/obj"
  mkdir -p "$build/obj"
  objs=()
  pids=()
  jobs=${FUZZ_JOBS:-2}
  n=0
  for src in "${sources[@]}"; do
    n=$((n + 1))
    obj="$build/obj/${n}_$(basename "$src" .cpp).o"  # numbered: two dirs may hold a config.cpp
    objs+=("$obj")
    "$cxx" "${compile[@]}" -MMD -c "$src" -o "$obj" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
      wait "${pids[0]}" || { echo "$name: compile failed" >&2; wait; exit 1; }
      pids=("${pids[@]:1}")
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid" || { echo "$name: compile failed" >&2; wait; exit 1; }; done
  if ! "$cxx" "${link[@]}" "${objs[@]}" "${libs[@]}" -o "$bin"; then
    echo "$name: link failed (libFuzzer's runtime comes with libclang-rt-dev)" >&2
    exit 1
  fi
  sed -e 's/^[^:]*://' -e 's/\\$//' "$build"/obj/*.d | tr -s ' ' '\n' | sed '/^$/d' | sort -u >"$build/deps"
  stamp_of >"$build/stamp"
fi

# Work on a copy of the seeds; what the fuzzer adds stays in $build/corpus for the next run.
mkdir -p "$build/corpus" "$build/crashes"
for dir in "${seeds[@]}"; do
  [ -d "$dir" ] && find "$dir" -maxdepth 1 -type f ! -name '*.md' -exec cp {} "$build/corpus/" \;
done

symbolizer=$(command -v llvm-symbolizer || ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | head -1 || true)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$symbolizer

flags=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$build/crashes/")
[ -n "$runs" ] && flags+=(-runs="$runs")
[ -n "$max_len" ] && flags+=(-max_len="$max_len")
[ -n "$dict" ] && flags+=(-dict="$dict")
read -r -a extra <<<"${FUZZ_ARGS:-}"
log=$build/fuzz.log
# With -jobs=N (N > 1) libFuzzer runs N worker processes, each with its own -runs bound, writing
# fuzz-<job>.log into the working directory; the figures below are then summed over the workers
# (executions, exec/s) or taken at their best (coverage, features, corpus, seconds, RSS).
njobs=$(sed -n 's/.*-jobs=\([0-9][0-9]*\).*/\1/p' <<<"${FUZZ_ARGS:-}")
njobs=${njobs:-1}
rm -f "$build"/fuzz-*.log
echo "$name: fuzzing for ${secs}s${runs:+ or $runs executions}$([ "$njobs" -gt 1 ] && echo " in each of $njobs processes") (log: $log)"
set +e
(cd "$build" && exec "$bin" "${flags[@]}" "${extra[@]}" "$build/corpus") >"$log" 2>&1
status=$?
set -e
logs=("$log")
[ "$njobs" -gt 1 ] && logs=("$build"/fuzz-*.log)

sum() { local t=0 v f; for f in "${logs[@]}"; do v=$(sed -n "s/^stat::$1: *//p" "$f" | tail -1); t=$((t + ${v:-0})); done; echo "$t"; }
most() { local m="" v f; for f in "${logs[@]}"; do v=$("$@" "$f" | tail -1); [ -n "$v" ] && { [ -z "$m" ] || [ "$v" -gt "$m" ]; } && m=$v; done; echo "$m"; }
last_field() { grep -E '^#[0-9]+' "$2" | tail -1 | sed -n "s/.* $1: \([0-9]*\).*/\1/p"; }
execs=$(sum number_of_executed_units)
rate=$(sum average_exec_per_sec)
rss=$(most sed -n 's/^stat::peak_rss_mb: *//p')
cov=$(most last_field cov)
ft=$(most last_field ft)
corp=$(most last_field corp)
elapsed=$(most sed -n 's/.*Done [0-9]* runs in \([0-9]*\) second.*/\1/p')
[ "$execs" -gt 0 ] || execs=""

if [ "$status" -eq 0 ]; then
  echo "$name: ok: ${elapsed:-$secs}s, ${execs:-?} execs (${rate:-?}/s), cov ${cov:-?} edges, ft ${ft:-?}, corpus ${corp:-?}, peak rss ${rss:-?} MB, crashes 0"
  [ -n "$tmp_build" ] && rm -rf "$tmp_build"
  exit 0
fi
for f in "${logs[@]}"; do
  echo "$name: FAILED (exit $status) after ${execs:-?} execs, cov ${cov:-?}; last 60 lines of $f:" >&2
  tail -n 60 "$f" >&2
done
found=$(ls -t "$build"/crashes/ 2>/dev/null | head -5)
if [ -n "$found" ]; then
  echo "$name: findings in $build/crashes/: $(echo $found)" >&2
  echo "$name: replay: $bin $build/crashes/<file>" >&2
fi
exit "$status"
