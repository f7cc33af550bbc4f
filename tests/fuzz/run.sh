#!/bin/bash
# Run one libFuzzer target for a while on a scratch copy of its seed corpus
# and print executions and crashes.  Exit status: 0, or 1 on a crash, a leak
# or a sanitizer report (libFuzzer's own exit status for a crash is 77,
# which meson counts as a skipped test: a crash would pass unseen).
#   tests/fuzz/run.sh TARGET SECONDS CORPUS_DIR
set -u
target="$1" secs="$2" corpus="$3"
work=$(mktemp -d /tmp/inboxfs-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work/corpus"
"$target" -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
rc=$?
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$')
crashes=$(ls "$work" | grep -c -E '^(crash|leak|timeout|oom)-')
echo "$(basename "$target"): ${execs:-0} executions in ${secs}s, $crashes crashes, [ $rc -eq 0 ] || exit 1"
if [ $rc -ne 0 ]; then
    tail -40 "$work/log"
    mkdir -p /tmp/inboxfs-fuzz-artifacts && cp "$work"/crash-* "$work"/leak-* /tmp/inboxfs-fuzz-artifacts/ 2>/dev/null
fi
exit $rc
