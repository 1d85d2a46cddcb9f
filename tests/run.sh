#!/usr/bin/env bash
# run.sh BUILD_DIR - run every unit self-test, then every e2e scenario, one per CPU core at a time
# (ZCHAT_TEST_JOBS=N for another count). Prints "PASS name (1.2s)" or "FAIL name" plus the tail
# of its output, then "N passed, N failed"; exits 1 if anything failed. Needs bash >= 5.1 and
# coreutils only.
set -u

if [ $# -ne 1 ]; then
    echo "usage: tests/run.sh BUILD_DIR" >&2
    exit 2
fi
build=$1
if [ "${BASH_VERSINFO[0]}" -lt 5 ] || { [ "${BASH_VERSINFO[0]}" -eq 5 ] && [ "${BASH_VERSINFO[1]}" -lt 1 ]; }; then
    echo "tests/run.sh: needs bash 5.1 or later (wait -n -p)" >&2
    exit 2
fi
jobs=${ZCHAT_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
if ! [[ $jobs =~ ^[1-9][0-9]*$ ]]; then
    echo "tests/run.sh: ZCHAT_TEST_JOBS must be a count of jobs, not '$jobs'" >&2
    exit 2
fi
limit=120     # seconds per test
tail_lines=60 # lines of output shown for a failure

export ZCHAT_BROKER="$build/zchat-broker"
# A leak or undefined behaviour in the tests or in the broker they start fails the test.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

work=$(mktemp -d "${TMPDIR:-/tmp}/zchat-run.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
tests=()  # "kind name" pairs: kind is selftest or e2e

if [ -x "$build/selftest" ]; then
    if names=$("$build/selftest" --list 2>"$work/list.err"); then
        for name in $names; do
            tests+=("selftest $name")
        done
    else
        echo "FAIL selftest --list"
        tail -n "$tail_lines" "$work/list.err"
        failed=$((failed + 1))
    fi
else
    echo "skip: no $build/selftest"
fi

if [ -x "$build/e2e" ]; then
    if names=$("$build/e2e" --list 2>"$work/list.err"); then
        for name in $names; do
            tests+=("e2e $name")
        done
    else
        echo "FAIL e2e --list"
        tail -n "$tail_lines" "$work/list.err"
        failed=$((failed + 1))
    fi
else
    echo "FAIL e2e (no $build/e2e)"
    failed=$((failed + 1))
fi

# Microseconds since the epoch, from bash's $EPOCHREALTIME.
now_us() {
    local t=${EPOCHREALTIME/[.,]/}
    echo "$t"
}

# Run one test in the background; its output and status land in $work/<index>.*
start_test() {
    local index=$1 kind=$2 name=$3
    (
        start=$(now_us)
        timeout --kill-after=5 "$limit" "$build/$kind" "$name" >"$work/$index.out" 2>&1
        rc=$?
        end=$(now_us)
        # CZMQ reports sockets left open at exit: that fails the test too.
        if [ $rc -eq 0 ] && [[ $(<"$work/$index.out") == *dangling* ]]; then
            rc=99
        fi
        echo "$rc $(((end - start) / 1000))" >"$work/$index.rc"
    ) &
    pids[$!]=$index
}

report() {
    local index=$1
    local kind name rc=1 ms=0
    read -r kind name <<<"${tests[$index]}"
    [ -f "$work/$index.rc" ] && read -r rc ms <"$work/$index.rc"
    local label="$kind/$name"
    if [ "$rc" -eq 0 ]; then
        printf 'PASS %s (%d.%ds)\n' "$label" $((ms / 1000)) $((ms % 1000 / 100))
        passed=$((passed + 1))
    else
        local why=""
        [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && why=" (timed out after ${limit}s)"
        [ "$rc" -eq 99 ] && why=" (dangling sockets reported)"
        printf 'FAIL %s%s\n' "$label" "$why"
        local line
        tail -n "$tail_lines" "$work/$index.out" | while IFS= read -r line; do
            printf '    %s\n' "$line"
        done
        failed=$((failed + 1))
    fi
}

declare -A pids=()
next=0
total=${#tests[@]}
while [ "$next" -lt "$total" ] || [ "${#pids[@]}" -gt 0 ]; do
    while [ "$next" -lt "$total" ] && [ "${#pids[@]}" -lt "$jobs" ]; do
        read -r kind name <<<"${tests[$next]}"
        start_test "$next" "$kind" "$name"
        next=$((next + 1))
    done
    done_pid=""
    wait -n -p done_pid "${!pids[@]}"
    if [ -n "$done_pid" ] && [ -n "${pids[$done_pid]+set}" ]; then
        report "${pids[$done_pid]}"
        unset "pids[$done_pid]"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
