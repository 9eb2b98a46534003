#!/usr/bin/env bash
# Runs the test suite against one build (PT_BUILD=build|build-asan, PT_BIN=bin|build-asan/bin).
#   scripts/run-tests.sh [unit|integration|fuzz|conformance|all|system]
# Each test is a program (cmocka binaries from tests/unit and tests/integration,
# fuzz corpus replays from tests/fuzz) or an executable script
# (tests/unit/*.sh, tests/integration/*.sh, tests/browser/*.sh ...). Every test runs under a
# time limit; the runner prints one line per test and a closing
# "N passed, N failed" line, and exits non-zero if anything failed.
# `system` (tests/system/*.sh: the fresh-machine install, the package ...) is
# not part of `all`: `make check` runs it once, never under the sanitizers.
set -u
cd "$(dirname "$0")/.."
export PT_BUILD="${PT_BUILD:-build}" PT_BIN="${PT_BIN:-bin}"
export PT_ROOT="$PWD"
what="${1:-all}"
# Sanitizer runs: leaks are errors; reports go to stderr of the test.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PT_ROOT/tests/lsan.supp:print_suppressions=0}"
# System tests may build a Debian root or a package from scratch: longer.
if [ "$what" = system ]; then TEST_TIMEOUT="${PT_TEST_TIMEOUT:-900}"; else TEST_TIMEOUT="${PT_TEST_TIMEOUT:-300}"; fi
logdir="$PT_BUILD/test-logs"; mkdir -p "$logdir"

tests=()
add() { for t in "$@"; do [ -x "$t" ] && [ -f "$t" ] && tests+=("$t"); done; }
case "$what" in
unit|all) add "$PT_BUILD"/tests/unit/test_* tests/unit/*.sh ;;&
fuzz|all) add "$PT_BUILD"/tests/fuzz/fuzz_* ;;&
integration|all) add "$PT_BUILD"/tests/integration/test_* tests/integration/*.sh ;;&
conformance|all) add tests/conformance/*.sh tests/browser/*.sh tests/webtorrent/*.sh ;;&
system) add tests/system/*.sh ;;&
*) ;;
esac

pass=0; fail=0; failed=()
for t in "${tests[@]}"; do
	name="${t#"$PT_BUILD"/}"; log="$logdir/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s.%N)
	case "$t" in
	*/fuzz/fuzz_*) corpus="tests/fuzz/corpus/$(basename "$t" | sed 's/^fuzz_//')"
	               timeout -k 5 "$TEST_TIMEOUT" "$t" "$corpus" >"$log" 2>&1 ;;
	*) timeout -k 5 "$TEST_TIMEOUT" "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
	if [ $rc -eq 0 ] && ! grep -qE '^(==[0-9]+==ERROR|SUMMARY: (Address|Undefined|Leak)Sanitizer)|runtime error:' "$log"; then
		pass=$((pass + 1)); printf 'PASS %-50s %6ss\n' "$name" "$secs"
	else
		fail=$((fail + 1)); failed+=("$name"); printf 'FAIL %-50s %6ss (rc=%d, log %s)\n' "$name" "$secs" "$rc" "$log"
		tail -n 40 "$log" | sed 's/^/    | /'
	fi
done
echo
[ $fail -eq 0 ] || printf 'failed: %s\n' "${failed[*]}"
label=$(basename "$PT_BUILD"); [ "$what" = system ] && label=system
echo "$label: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
