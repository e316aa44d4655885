#!/bin/sh
# rewind-export from the command line: against a finished store, against a
# store another process is writing, and its errors. The writer is the DVR
# crash test's (common/dvr/crash_writer.cpp): real H.264 + AAC, segments of
# about a second.
#
#   export_cli_test.sh REWIND_EXPORT CRASH_WRITER
set -eu
export_bin=$1
writer=$2
tmp=$(mktemp -d)
writer_pid=
cleanup() {
  if [ -n "$writer_pid" ]; then kill "$writer_pid" 2>/dev/null || true; wait "$writer_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A finished recording of 60 segments (66 s; the writer keeps a 20 s
# window: 45 to 66 s); a name with a slash.
"$writer" "$tmp/done/dvr" live cam/1 record 60 > /dev/null
"$export_bin" --data-dir "$tmp/done" --list > "$tmp/list"
grep -q "cam/1.*offline" "$tmp/list" || fail "--list: $(cat "$tmp/list")"

"$export_bin" --data-dir "$tmp/done" --app live --stream cam/1 --from 50 --to 57.5 --output "$tmp/clip.flv" > "$tmp/out"
test -s "$tmp/clip.flv" || fail "no clip"
test ! -e "$tmp/clip.flv.partial" || fail "partial file left"
# Keyframes at 0 and 1 s of every 2.2 s: the one at or before 50 s is at 49.4 s.
grep -q " 49.400-" "$tmp/out" || fail "summary: $(cat "$tmp/out")"
if [ -x /usr/bin/ffprobe ]; then
  duration=$(/usr/bin/ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$tmp/clip.flv" 2>&1)
  awk -v d="$duration" 'BEGIN { exit !(d >= 7.9 && d <= 8.2) }' || fail "ffprobe duration $duration, expected about 8.1"
fi

# While the writer runs: the export reads a consistent view of the live store.
: > "$tmp/written"
"$writer" "$tmp/live/dvr" live cam/2 record 0 262144 >> "$tmp/written" &
writer_pid=$!
tries=0
while [ "$(wc -l < "$tmp/written")" -lt 80 ]; do
  tries=$((tries + 1))
  [ "$tries" -lt 200 ] || fail "the writer wrote nothing"
  sleep 0.05
done
"$export_bin" --data-dir "$tmp/live" --list | grep -q "cam/2.*live" || fail "--list while writing"
"$export_bin" --data-dir "$tmp/live" --app live --stream cam/2 --output "$tmp/live.flv" > /dev/null
test -s "$tmp/live.flv" || fail "no clip while writing"
if [ -x /usr/bin/ffprobe ]; then
  errors=$(/usr/bin/ffprobe -v error -show_entries format=duration "$tmp/live.flv" 2>&1 >/dev/null)
  [ -z "$errors" ] || fail "ffprobe: $errors"
fi
kill "$writer_pid"
wait "$writer_pid" 2>/dev/null || true
writer_pid=

# Errors: exit 1 (and no file) for what the store lacks, 2 for bad usage.
status=0
"$export_bin" --data-dir "$tmp/done" --app live --stream nobody --output "$tmp/none.flv" 2> "$tmp/err" || status=$?
[ "$status" -eq 1 ] || fail "unknown stream: exit $status"
grep -q "NotFound" "$tmp/err" || fail "unknown stream: $(cat "$tmp/err")"
test ! -e "$tmp/none.flv" && test ! -e "$tmp/none.flv.partial" || fail "file left after an error"
status=0
"$export_bin" --data-dir "$tmp/nowhere" --list 2> /dev/null || status=$?
[ "$status" -eq 1 ] || fail "missing store: exit $status"
status=0
"$export_bin" --data-dir "$tmp/done" --stream cam/1 --from -3 --output x.flv 2> /dev/null || status=$?
[ "$status" -eq 2 ] || fail "bad --from: exit $status"
status=0
"$export_bin" --data-dir "$tmp/done" --app live --stream cam/1 2> /dev/null || status=$?
[ "$status" -eq 2 ] || fail "no --output: exit $status"
"$export_bin" --help | grep -q "usage:" || fail "--help"
echo "rewind-export: ok"
