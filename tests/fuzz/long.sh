#!/bin/bash
# Run every libFuzzer target for a longer time, one after the other, each on
# a scratch copy of its seed corpus, and print executions and crashes per
# target plus a total.  Exit status: non-zero when any target found a crash,
# a leak, a timeout or an out-of-memory input (kept in
# /tmp/inboxfs-fuzz-artifacts/).
#
#   tests/fuzz/long.sh [SECONDS_PER_TARGET] [BUILD_DIR]   # default 600, build-clang
#
# BUILD_DIR is set up (clang, -Dfuzz=true, ASan+UBSan) and compiled when needed.
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
secs="${1:-600}"
build="${2:-$REPO/build-clang}"
targets="parser utf7 token config query"

if [ ! -d "$build" ]; then
    CC=clang meson setup "$build" "$REPO" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null || exit 1
fi
meson compile -C "$build" >/dev/null || { echo "long.sh: build failed"; exit 1; }

failed=0
summary=()
for t in $targets; do
    out=$(bash "$REPO/tests/fuzz/run.sh" "$build/tests/fuzz_$t" "$secs" \
          "$REPO/tests/fuzz/corpus/$t")
    rc=$?
    echo "$out"
    [ "$rc" -ne 0 ] && failed=1
    summary+=("${out%%$'\n'*}")
done
echo "=== fuzz summary (${secs} s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
