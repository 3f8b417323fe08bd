#!/usr/bin/env bash
# ABI check: compares the exported ABI of a libslide build with the committed baseline (abi/libslide.abi,
# written by abidw from the previous release) using libabigail's abidiff, and fails on any change the
# policy in slide.h ("Binary compatibility") does not allow: a removed function, a changed signature, a
# struct field moved, retyped or removed, a struct that changed size other than by appending at its end.
# Added functions and fields appended at the end (abi/suppressions.abignore) are reported and pass.
#
#   abi/check.sh [BUILD_DIR]     BUILD_DIR: a meson build of the C library with debug info (-g), made here
#                                when absent (default build-abi, buildtype debugoptimized)
#   abi/check.sh --update BUILD_DIR   rewrites the baseline from that build (at a release, after review)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v abidiff >/dev/null || { echo "abi/check.sh: abidiff not found (Debian package abigail-tools)" >&2; exit 2; }

update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
build="${1:-build-abi}"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dbuildtype=debugoptimized -Dpython=false >/dev/null
fi
ninja -C "$build" >/dev/null || { ninja -C "$build"; exit 1; }
lib=$(ls "$build"/libslide/libslide.so.*.*.* | head -n 1)

if [ "$update" = 1 ]; then
  abidw --headers-dir libslide/include/slide --no-corpus-path --drop-private-types --out-file abi/libslide.abi "$lib"
  echo "abi/check.sh: baseline abi/libslide.abi rewritten from $lib"
  exit 0
fi

args=(--suppressions abi/suppressions.abignore --headers-dir2 libslide/include/slide --drop-private-types
      abi/libslide.abi "$lib")
set +e
abidiff "${args[@]}"
rc=$?
set -e
# abidiff's status is a bit field: 1 error, 2 usage error, 4 ABI change, 8 incompatible ABI change.
if (( rc & 3 )); then echo "abi/check.sh: abidiff failed to run (status $rc)" >&2; exit 1; fi
if (( rc & 8 )); then echo "abi/check.sh: INCOMPATIBLE ABI change against abi/libslide.abi (see above)" >&2; exit 1; fi
if (( rc & 4 )); then
  # Added functions alone set bit 4 too: allowed. Anything left once they are ignored is not.
  set +e
  abidiff --no-added-syms "${args[@]}" >/dev/null
  rc2=$?
  set -e
  if (( rc2 != 0 )); then
    echo "abi/check.sh: ABI change not allowed by the policy in slide.h (see the report above)" >&2
    exit 1
  fi
fi
echo "abi/check.sh: ABI compatible with abi/libslide.abi ($lib)"
