#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. the Release build (warnings are errors here): unit tests, integration
#      and interop tests with real clients, the benchmark smoke runs (ctest);
#   2. the same code built with ASan and UBSan (build-asan/): the unit and
#      interop tests again, so a use after free or undefined behaviour that
#      a plain build hides fails the run;
#   3. each libFuzzer target for a bounded time, and meanwhile (the fuzzers
#      use one core) deploy/ for real: the image built and the compose chain
#      run with podman (tests/deploy, ctest label deploy).
# Exits non-zero if anything fails.
#   REWIND_FUZZ_SECONDS  seconds per fuzz target (default 30)
#   REWIND_SKIP_ASAN=1   skip step 2 (a quicker local run)
#   REWIND_SKIP_DEPLOY=1 skip the compose test
set -euo pipefail
source "$(dirname "$0")/lib.sh"
install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
if [ "${REWIND_SKIP_DEPLOY:-0}" != 1 ]; then install_missing "${DEPLOY_TEST_PACKAGES[@]}"; fi
raise_fd_limit

build "$BUILD_DIR" -DREWIND_WERROR=ON
log "ctest (Release)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 600 -LE deploy

if [ "${REWIND_SKIP_ASAN:-0}" != 1 ]; then
  # -O1: sanitizers need no more, and it builds in less time than -O2.
  build "$ASAN_BUILD_DIR" -DREWIND_WERROR=ON -DREWIND_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
  log "ctest (ASan + UBSan: unit and interop tests)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$ASAN_BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 900 -L 'unit|interop'
fi

deploy_pid=""
if [ "${REWIND_SKIP_DEPLOY:-0}" != 1 ]; then
  log "ctest (deploy: the image and the compose chain, in the background)"
  ctest --test-dir "$BUILD_DIR" --output-on-failure -L deploy > "$BUILD_DIR/deploy-test.log" 2>&1 &
  deploy_pid=$!
fi
fuzz_status=0
"$REPO_ROOT/scripts/fuzz.sh" "${REWIND_FUZZ_SECONDS:-30}" || fuzz_status=$?
if [ -n "$deploy_pid" ]; then
  deploy_status=0
  wait "$deploy_pid" || deploy_status=$?
  cat "$BUILD_DIR/deploy-test.log"
  [ "$deploy_status" -eq 0 ] || { log "the deploy test FAILED"; exit 1; }
fi
[ "$fuzz_status" -eq 0 ] || exit "$fuzz_status"
log "all tests passed"
