#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS
# (default 30), starting from its checked-in seed corpus. A crash leaves its
# input in tests/fuzz/artifacts/ and fails the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-30}
fuzz_dir=${REWIND_FUZZ_BUILD_DIR:-$REPO_ROOT/build-fuzz}
if [ ! -f "$fuzz_dir/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$REPO_ROOT" -B "$fuzz_dir" -G Ninja \
    -DREWIND_FUZZ=ON -DREWIND_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$fuzz_dir" -j "$(nproc)"
artifacts="$REPO_ROOT/tests/fuzz/artifacts"
mkdir -p "$artifacts"
for target in fuzz_amf0 fuzz_amf3 fuzz_handshake fuzz_chunk_decoder fuzz_flv_reader fuzz_server_session \
              fuzz_client_session; do
  log "fuzzing $target for ${seconds}s"
  work=$(mktemp -d)
  "$fuzz_dir/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 \
    -max_len=16384 -artifact_prefix="$artifacts/$target-" "$work" "$REPO_ROOT/tests/fuzz/corpus/$target" \
    2>"$work.log" || { tail -50 "$work.log"; log "$target FAILED"; exit 1; }
  grep -E 'stat::number_of_executed_units|cov:' "$work.log" | tail -2 >&2 || true
  rm -rf "$work" "$work.log"
done
