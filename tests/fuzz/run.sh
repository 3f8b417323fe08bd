#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UndefinedBehaviorSanitizer, any UB report
# is fatal) and runs each for a bounded time from a scratch copy of its committed corpus and of its
# regressions, so the committed files never change. Prints executions, coverage and crashes per target;
# exits non-zero when any target crashed (the crashing input is kept under <work>/artifacts/<target>/).
#
#   tests/fuzz/run.sh SECONDS [TARGET...]     targets: fuzz_xc_reader fuzz_model_load (default: both)
#
# Environment: SLIDE_FUZZ_WORK   scratch directory (default build-fuzz/ in the repository; recreated)
#              SLIDE_FUZZ_PARALLEL=1  run the targets at the same time, one process each
#              CC                compiler (default clang; needs -fsanitize=fuzzer)
set -euo pipefail
secs=${1:?usage: tests/fuzz/run.sh SECONDS [TARGET...]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
fuzz=$root/tests/fuzz
work=${SLIDE_FUZZ_WORK:-$root/build-fuzz}
cc=${CC:-clang}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_xc_reader fuzz_model_load)

rm -rf "$work"
mkdir -p "$work/obj"

common=(-std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
        -D_POSIX_C_SOURCE=200809L -Wno-unknown-pragmas -I"$root/libslide/include" -I"$root/libslide/src")
libs=(-lm -ldl -lpthread)
lib_defs=(-DSLIDE_BUILDING)
if echo '#include <zlib.h>' | "$cc" -E -x c - >/dev/null 2>&1; then
  lib_defs+=(-DSLIDE_HAVE_ZLIB)
  common+=(-DSLIDE_FUZZ_HAVE_ZLIB)
  libs+=(-lz)
fi

# The library is compiled from its sources (OpenMP off: the targets are single-threaded), each kernel
# file with the instruction-set flags libslide/meson.build gives it; the CPU check still picks at run time.
echo "== building the fuzz targets with $cc in $work"
for src in "$root"/libslide/src/*.c; do
  name=$(basename "$src" .c)
  extra=()
  case $name in
    kernels_avx2) extra=(-mavx2 -mfma) ;;
    kernels_avx512) extra=(-mavx512f -mavx512dq -mavx512vl -mavx2 -mfma) ;;
  esac
  echo "$cc ${common[*]} ${lib_defs[*]} -fsanitize=fuzzer-no-link ${extra[*]} -c $src -o $work/obj/$name.o"
done | xargs -P 2 -I{} sh -c '{}'
for t in "${targets[@]}"; do
  "$cc" "${common[@]}" -fsanitize=fuzzer "$fuzz/$t.c" "$work"/obj/*.o "${libs[@]}" -o "$work/$t"
done

run_target() {
  local t=$1 corpus=$work/corpus/$1 art=$work/artifacts/$1
  mkdir -p "$corpus" "$art"
  cp "$fuzz/corpus/$t"/* "$corpus"/
  find "$fuzz/regressions/$t" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$corpus"/ \;
  local dict=()
  [ -f "$fuzz/$t.dict" ] && dict=(-dict="$fuzz/$t.dict")
  set +e
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$work/$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$art/" "${dict[@]}" "$corpus" >"$work/$t.log" 2>&1
  echo $? >"$work/$t.rc"
  set -e
}

echo "== fuzzing ${targets[*]} for ${secs}s each"
if [ "${SLIDE_FUZZ_PARALLEL:-0}" = 1 ]; then
  for t in "${targets[@]}"; do run_target "$t" & done
  wait
else
  for t in "${targets[@]}"; do run_target "$t"; done
fi

status=0
printf '%-18s %12s %8s %8s %8s %8s\n' target executions exec/s cov ft crashes
for t in "${targets[@]}"; do
  log=$work/$t.log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "$work/artifacts/$t" -type f | wc -l)
  rc=$(cat "$work/$t.rc")
  printf '%-18s %12s %8s %8s %8s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
    status=1
    echo "!! $t: libFuzzer exit $rc; log $log; inputs:" $(find "$work/artifacts/$t" -type f)
    grep -E 'ERROR|runtime error|fuzz target:|SUMMARY' "$log" | head -5 || true
  fi
done
exit $status
