#!/bin/bash
# Run every test of inboxfs: on a fresh Debian 12 machine, as root.
#
#   bash tests/run.sh
#
# Installs what is missing, then, each against a real Dovecot and a real
# FUSE mount started by the tests themselves:
#   1. gcc build (-Wall -Wextra -Werror): unit tests (C) + integration tests (pytest)
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   (each with a soak test: 5 min plain, 1 min under the sanitizers)
#   3. clang build (-Werror, ASan+UBSan): unit tests, and each libFuzzer target
#      (response parser, modified UTF-7, token answers, config file) for
#      fuzz_seconds (60 s) on its seed corpus
#   4. valgrind memcheck: the core integration tests (mount, read, rm, mv,
#      IDLE, refusals) with the gcc build's binary run under valgrind; fails
#      on any valgrind error or definitely lost block (tests/valgrind.sh)
# and ends with one line "N passed, N failed".  Set INBOXFS_QUICK=1 to run
# only the first configuration.  The integration suite's core tests
# (test_servers.py) run against Dovecot, Cyrus and Courier;
# INBOXFS_SERVERS=dovecot (or any comma-separated subset) picks fewer.
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash tests/install-deps.sh || { echo "run.sh: installing dependencies failed"; exit 1; }

results=()   # one "passed failed" pair per configuration

# count_results BUILD_DIR: unit test programs from meson's log, pytest cases
# from pytest's own JUnit file.
count_results() {
    /usr/bin/python3 - "$1" <<'PY'
import json, os, sys, xml.etree.ElementTree as ET
build = sys.argv[1]
passed = failed = 0
ran_pytest = False
log = os.path.join(build, "meson-logs", "testlog.json")
if os.path.exists(log):
    for line in open(log):
        t = json.loads(line)
        if t.get("name") == "integration":
            ran_pytest = True
            continue
        if t["result"] in ("OK", "EXPECTEDFAIL", "SKIP"):
            passed += t["result"] != "SKIP"
        else:
            failed += 1
junit = os.path.join(build, "tests", "pytest-junit.xml")
if os.path.exists(junit):
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = {c.tag for c in case}
        if kinds & {"failure", "error"}:
            failed += 1
        elif "skipped" not in kinds:
            passed += 1
elif ran_pytest:
    failed += 1  # pytest did not even write its report
print(passed, failed)
PY
}

run_config() {
    local name="$1" dir="$2" suites="$3"; shift 3
    echo "=== $name"
    if [ ! -d "$dir" ]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; results+=("0 1"); return; }
    fi
    rm -f "$dir/tests/pytest-junit.xml" "$dir/meson-logs/testlog.json"
    if ! meson compile -C "$dir" >"$dir.compile.log" 2>&1; then
        tail -50 "$dir.compile.log"; results+=("0 1"); return
    fi
    # shellcheck disable=SC2086
    meson test -C "$dir" --print-errorlogs $suites
    results+=("$(count_results "$dir")")
}

# The soak test runs about 5 minutes in the plain build and 1 minute under
# the sanitizers (INBOXFS_SOAK_SECONDS overrides both; INBOXFS_QUICK: 30 s).
soak=${INBOXFS_SOAK_SECONDS:-300}
[ -n "${INBOXFS_QUICK:-}" ] && soak=${INBOXFS_SOAK_SECONDS:-30}
INBOXFS_SOAK_SECONDS=$soak run_config "gcc" build ""
if [ -z "${INBOXFS_QUICK:-}" ]; then
    INBOXFS_SOAK_SECONDS=${INBOXFS_SOAK_SECONDS:-60} \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run_config "gcc, AddressSanitizer + UBSan" build-asan "" \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
    CC=clang run_config "clang: unit tests and libFuzzer targets (ASan+UBSan)" build-clang \
        "--suite unit --suite fuzz" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dfuzz_seconds=60
    echo "=== valgrind memcheck: core integration tests"
    bash tests/valgrind.sh build | tee build-valgrind.log
    results+=("$(tail -1 build-valgrind.log)")
fi

passed=0; failed=0
for r in "${results[@]}"; do
    set -- $r; passed=$((passed + $1)); failed=$((failed + $2))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
