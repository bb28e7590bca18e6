#!/bin/sh
# Runs every test suite against one build; each suite closes with
# "N passed, M failed", and so does this script, with the totals.
# Usage: tests/run-all.sh BUILD_DIR [unit|integration]
set -u
build=${1:?usage: tests/run-all.sh BUILD_DIR [unit|integration]}
which=${2:-all}
cd "$(dirname "$0")/.."
export ANOSIP_BUILD="$build"
# Leak checks stay on; a report fails the suite that caused it.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

total_passed=0
total_failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_suite() {
	name=$1
	shift
	echo "=== $name"
	start=$(date +%s)
	timeout --kill-after=10 "${SUITE_TIMEOUT:-600}" "$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	passed=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	failed=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	passed=${passed:-0}
	failed=${failed:-0}
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
		# Crashed, timed out or leaked without a failing test to show for it.
		echo "$name: exited $rc"
		failed=1
	fi
	echo "=== $name: $passed passed, $failed failed ($(($(date +%s) - start)) s)"
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
}

if [ "$which" = all ] || [ "$which" = unit ]; then
	run_suite unit "$build/tests/unit-tests"
fi
if [ "$which" = all ] || [ "$which" = integration ]; then
	for t in tests/integration/test_*.py; do
		run_suite "$(basename "$t" .py)" python3 "$t"
	done
fi
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
