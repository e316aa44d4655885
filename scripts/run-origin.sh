#!/usr/bin/env bash
# Installs what is missing, builds, and runs rewind-origin with its embedded
# defaults (RTMP on 0.0.0.0:1935, DVR store under ./rewind-data). Extra
# arguments go to rewind-origin, e.g. --listen 127.0.0.1:1936.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
install_missing "${BUILD_PACKAGES[@]}"
build "$BUILD_DIR"
raise_fd_limit
exec "$BUILD_DIR/origin/rewind-origin" "$@"
