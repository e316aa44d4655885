#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests,
# integration and interop tests with real clients (ctest), then each fuzz
# target for a bounded time. Exits non-zero if anything fails.
#   REWIND_FUZZ_SECONDS  seconds per fuzz target (default 30)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
build
raise_fd_limit

log "ctest"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 600

"$REPO_ROOT/scripts/fuzz.sh" "${REWIND_FUZZ_SECONDS:-30}"
log "all tests passed"
