#!/usr/bin/env bash
# Builds the net codecs' libFuzzer target (net_codec_fuzz.cpp: HTTP/1.1 head parser, chunked
# decoder, WebSocket reader, forwarding headers) with clang++ (ASan + UBSan) and runs it for a bounded time.
# Separate from the project's gcc build on purpose (modules/turn/fuzz/run.sh does the same).
#
# Usage: appliance/host/fuzz/run.sh [SECONDS]     (default 60)
# Environment: FUZZ_BUILD_DIR (default: a temporary directory, kept only on a finding), CLANGXX.
# Exit status: 0 when the run ended without a finding; findings are saved in $FUZZ_BUILD_DIR/crashes/.
set -euo pipefail

secs=${1:-60}
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../src" && pwd)
cxx=${CLANGXX:-clang++}
command -v "$cxx" >/dev/null || { echo "net_codec_fuzz: $cxx not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

tmp_build=""
if [ -n "${FUZZ_BUILD_DIR:-}" ]; then
  build=$FUZZ_BUILD_DIR
else
  build=$(mktemp -d "${TMPDIR:-/tmp}/net_codec_fuzz.XXXXXX")
  tmp_build=$build
fi
mkdir -p "$build/corpus" "$build/crashes"

bin=$build/net_codec_fuzz
sources=("$src/net/http1.cpp" "$src/net/websocket.cpp" "$src/net/forwarded.cpp" "$src/cidr.cpp" "$here/net_codec_fuzz.cpp")
if [ ! -x "$bin" ] || [ -n "$(find "${sources[@]}" "$src/net/http1.hpp" "$src/net/websocket.hpp" "$src/net/forwarded.hpp" -newer "$bin" 2>/dev/null)" ]; then
  echo "net_codec_fuzz: building $bin"
  "$cxx" -std=c++20 -O1 -g -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS -fno-sanitize-recover=all \
    -fsanitize=fuzzer,address,undefined -I"$src" "${sources[@]}" -lcrypto -o "$bin"
fi

# Seeds: a request head, a chunked body, a masked WebSocket frame (the first byte picks the codec).
printf '\x00\x10GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n' >"$build/corpus/seed-http1"
printf '\x01\x08 5;e=1\r\nhello\r\n0\r\nT: x\r\n\r\n' >"$build/corpus/seed-chunked"
printf '\x02\x04\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58' >"$build/corpus/seed-ws"
printf '\x03\x00203.0.113.7:80, [2001:db8::1]\nunknown, 10.0.0.1' >"$build/corpus/seed-xff"
printf '\x03\x01for=192.0.2.1;proto=https, For="[2001:db8::7]:443"\nfor=_x' >"$build/corpus/seed-forwarded"

symbolizer=$(command -v llvm-symbolizer || ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | head -1 || true)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$symbolizer

log=$build/fuzz.log
set +e
"$bin" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$build/crashes/" "$build/corpus" >"$log" 2>&1
status=$?
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
if [ "$status" -eq 0 ]; then
  echo "net_codec_fuzz: ok: ${secs}s, ${execs:-?} execs"
  [ -n "$tmp_build" ] && rm -rf "$tmp_build"
  exit 0
fi
echo "net_codec_fuzz: FAILED (exit $status) after ${execs:-?} execs; last 60 lines of $log:" >&2
tail -n 60 "$log" >&2
echo "net_codec_fuzz: findings in $build/crashes/: $(ls "$build/crashes" | head -5 | tr '\n' ' ')" >&2
exit "$status"
