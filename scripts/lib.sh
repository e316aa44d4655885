# Shared by run-origin.sh and run-tests.sh: install what is missing, build.
# Sourced, not run.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${REWIND_BUILD_DIR:-$REPO_ROOT/build}
# The same code with ASan and UBSan, for CI's second test run.
ASAN_BUILD_DIR=${REWIND_ASAN_BUILD_DIR:-$REPO_ROOT/build-asan}

# Packages to build Rewind.
BUILD_PACKAGES=(cmake ninja-build g++ ccache pkg-config libssl-dev
  libboost1.81-dev libboost-json1.81-dev librocksdb-dev prometheus-cpp-dev libprotobuf-dev protobuf-compiler libgtest-dev
  liblua5.4-dev)
# Real clients, peers and tools the tests use.
TEST_PACKAGES=(clang libclang-rt-14-dev python3 python3-librtmp ffmpeg rtmpdump
  nginx libnginx-mod-rtmp sysstat procps iproute2 prometheus)
# To build the deploy/ image and run its compose file without a Docker
# engine (tests/deploy): podman, and a base image made with debootstrap.
DEPLOY_TEST_PACKAGES=(podman runc docker-compose golang-github-containernetworking-plugin-dnsname
  debootstrap uidmap fuse-overlayfs)

log() { printf '==> %s\n' "$*" >&2; }

# Installs the given Debian packages that are not installed yet.
install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The compiler cache of the Release build (DIR/ccache). deploy/Dockerfile
# compiles the same sources with the same compiler and flags in /src/build,
# so the image's build (tests/deploy) reuses these objects: paths are
# hashed relative to the source tree, and -Werror, which only the
# project's own builds add, does not change an object.
export CCACHE_BASEDIR="$REPO_ROOT" CCACHE_IGNOREOPTIONS=-Werror CCACHE_MAXSIZE=2G

# build DIR [CMAKE_ARGS...]: configures DIR once (a Release build unless
# the arguments say otherwise), then builds it incrementally. The Release
# build of BUILD_DIR goes through ccache when it is installed.
build() {
  local dir=$1
  shift
  local launcher=()
  if [ "$dir" = "$BUILD_DIR" ] && command -v ccache > /dev/null; then
    export CCACHE_DIR="$BUILD_DIR/ccache"
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  if [ ! -f "$dir/build.ninja" ]; then
    log "configuring $dir"
    cmake -S "$REPO_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@"
  elif [ $# -gt 0 ]; then
    # Only what changed is rebuilt; arguments equal to the cache change nothing.
    cmake "$dir" "$@" > /dev/null
  fi
  log "building $dir"
  # One locale for every build: ccache hashes it, and deploy/Dockerfile
  # builds with this one.
  env -u LC_ALL -u LC_CTYPE -u LC_MESSAGES LANG=C.UTF-8 cmake --build "$dir" -j "$(nproc)"
}

# Many players need many descriptors; raise the soft limit to the hard one.
raise_fd_limit() {
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}
