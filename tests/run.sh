#!/bin/bash
# Run every test of inboxfs: on a fresh Debian 12 machine, as root.
#
#   bash tests/run.sh
#
# Installs what is missing, then, each against a real Dovecot and a real
# FUSE mount started by the tests themselves:
#   1. gcc build (-Wall -Wextra -Werror): unit tests (C) + integration tests (pytest)
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   (each with a soak test: 2.5 min plain, 1 min under the sanitizers)
#   3. clang build (-Werror, ASan+UBSan): unit tests, and each libFuzzer target
#      (response parser, modified UTF-7, token answers, config file) for
#      fuzz_seconds (40 s) on its seed corpus
#   4. valgrind memcheck: the core integration tests (mount, read, rm, mv,
#      IDLE, refusals) with the gcc build's binary run under valgrind; fails
#      on any valgrind error or definitely lost block (tests/valgrind.sh)
# and ends with one line "N passed, N failed" (skipped tests are counted on
# the line before, and per configuration as it ends).  Set INBOXFS_QUICK=1 to run
# only the first configuration.  The integration suite's core tests
# (test_servers.py) run against Dovecot, Cyrus and Courier;
# INBOXFS_SERVERS=dovecot (or any comma-separated subset) picks fewer.
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash tests/install-deps.sh || { echo "run.sh: installing dependencies failed"; exit 1; }

results=()   # one "passed failed skipped" triple per configuration

# count_results BUILD_DIR MESON_STATUS: unit test programs from meson's log,
# pytest cases from pytest's own JUnit file.  A configuration that reports
# nothing, a missing report, a failing meson run with no failed test, or an
# integration suite skipped whole (no /dev/fuse, say) counts as a failure.
count_results() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, os, sys, xml.etree.ElementTree as ET
build, status = sys.argv[1], int(sys.argv[2])
passed = failed = skipped = 0
why = []
ran_pytest = False
log = os.path.join(build, "meson-logs", "testlog.json")
if os.path.exists(log):
    for line in open(log):
        t = json.loads(line)
        # meson names it "inboxfs:integration / integration": its cases are
        # counted from pytest's report below, not as one more test here
        if t.get("name", "").split("/")[-1].strip() == "integration":
            ran_pytest = True
            continue
        if t["result"] == "SKIP":
            skipped += 1
        elif t["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
else:
    why.append("meson wrote no testlog.json")
junit = os.path.join(build, "tests", "pytest-junit.xml")
if os.path.exists(junit):
    cases = cases_skipped = 0
    for case in ET.parse(junit).getroot().iter("testcase"):
        cases += 1
        kinds = {c.tag for c in case}
        if kinds & {"failure", "error"}:
            failed += 1
        elif "skipped" in kinds:
            cases_skipped += 1
        else:
            passed += 1
    skipped += cases_skipped
    if cases == cases_skipped:
        why.append("no integration test ran (%d skipped)" % cases_skipped)
elif ran_pytest:
    why.append("pytest wrote no report")
if status != 0 and failed == 0:
    why.append("meson test exited %d with no failed test" % status)
if passed + failed == 0:
    why.append("no test reported anything")
for w in why:
    print("run.sh: %s: %s" % (build, w), file=sys.stderr)
failed += len(why)
print(passed, failed, skipped)
PY
}

# A stage that runs past this is killed and counted failed (CI allows 90
# minutes for everything; the whole run takes about 15).
STAGE_LIMIT=${INBOXFS_STAGE_LIMIT:-1800}

run_config() {
    local name="$1" dir="$2" suites="$3"; shift 3
    echo "=== $name"
    if [ ! -d "$dir" ]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; results+=("0 1 0"); return; }
    fi
    rm -f "$dir/tests/pytest-junit.xml" "$dir/meson-logs/testlog.json"
    if ! meson compile -C "$dir" >"$dir.compile.log" 2>&1; then
        tail -50 "$dir.compile.log"; results+=("0 1 0"); return
    fi
    # shellcheck disable=SC2086
    timeout --kill-after=30 "$STAGE_LIMIT" meson test -C "$dir" --print-errorlogs $suites
    local status=$?
    local r
    r="$(count_results "$dir" "$status")"
    echo "--- $name: $(set -- $r; echo "$1 passed, $2 failed, $3 skipped")"
    results+=("$r")
}

# The soak test runs about 2.5 minutes in the plain build and 1 minute under
# the sanitizers (INBOXFS_SOAK_SECONDS overrides both; INBOXFS_QUICK: 30 s).
soak=${INBOXFS_SOAK_SECONDS:-150}
[ -n "${INBOXFS_QUICK:-}" ] && soak=${INBOXFS_SOAK_SECONDS:-30}
INBOXFS_SOAK_SECONDS=$soak run_config "gcc" build ""
if [ -z "${INBOXFS_QUICK:-}" ]; then
    INBOXFS_SOAK_SECONDS=${INBOXFS_SOAK_SECONDS:-60} \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run_config "gcc, AddressSanitizer + UBSan" build-asan "" \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
    CC=clang run_config "clang: unit tests and libFuzzer targets (ASan+UBSan)" build-clang \
        "--suite unit --suite fuzz" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dfuzz_seconds=40
    echo "=== valgrind memcheck: core integration tests"
    timeout --kill-after=30 "$STAGE_LIMIT" bash tests/valgrind.sh build | tee build-valgrind.log
    last="$(tail -1 build-valgrind.log)"
    if [[ "$last" =~ ^[0-9]+\ [0-9]+$ ]]; then
        results+=("$last 0")
    else
        echo "run.sh: the valgrind stage ended without its count"; results+=("0 1 0")
    fi
fi

passed=0; failed=0; skipped=0
for r in "${results[@]}"; do
    set -- $r; passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + $3))
done
echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
