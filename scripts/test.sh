#!/usr/bin/env bash
# Runs every test: cargo's unit tests, then the phpt suite against a real
# memcached and the local WeChat stand-in (plain HTTP and HTTPS with a
# self-signed certificate), all on free loopback ports.
#
#   scripts/test.sh                   # everything
#   scripts/test.sh php-tests/x.phpt  # some phpt files only (cargo tests still run)
#   scripts/test.sh --valgrind        # the phpt suite under valgrind: memory errors
#                                     # and definite leaks fail (timing tests skip)
#
# Ends with one line "N passed, M failed" for the phpt suite.
source "$(dirname "$0")/lib.sh"

valgrind_args=()
if [ "${1:-}" = "--valgrind" ]; then
    shift
    APT_PACKAGES+=(valgrind)
    # PCRE's JIT writes code valgrind cannot follow; -q with these options
    # makes a definite leak an error, which run-tests reports as LEAK.
    valgrind_args=(-m -d pcre.jit=0)
    export VALGRIND_OPTS="--leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --suppressions=$ROOT/php-tests/valgrind.supp"
fi

ensure_deps
build_ext

say "cargo test"
cargo_status=0
(cd "$ROOT" && cargo test --release --quiet) || cargo_status=$?

make_test_cert "$RUN_DIR"
start_memcached MC_PORT
start_standin API_PORT
start_standin TLS_PORT --tls-cert "$RUN_DIR/cert.pem" --tls-key "$RUN_DIR/key.pem"

export WEIXIN_TEST_MEMCACHED="127.0.0.1:$MC_PORT"
export WEIXIN_TEST_API="http://127.0.0.1:$API_PORT"
export WEIXIN_TEST_API_TLS="https://127.0.0.1:$TLS_PORT"
export WEIXIN_TEST_CA_FILE="$RUN_DIR/cert.pem"
export WEIXIN_TEST_EXT="$EXT"
export WEIXIN_TEST_REPORT="$RUN_DIR/report.txt"
export TEST_PHP_EXECUTABLE=${TEST_PHP_EXECUTABLE:-$(command -v php)}
export NO_INTERACTION=1

run_tests=$(php-config --extension-dir)/build/run-tests.php
[ -f "$run_tests" ] || run_tests=$(dirname "$(php-config --extension-dir)")/build/run-tests.php
[ -f "$run_tests" ] || run_tests=/usr/lib/php/$(php-config --phpapi)/build/run-tests.php

targets=("$@"); ((${#targets[@]})) || targets=("$ROOT/php-tests")
say "phpt suite (memcached 127.0.0.1:$MC_PORT, stand-in :$API_PORT, TLS stand-in :$TLS_PORT)"
log="$RUN_DIR/run-tests.log"
php "$run_tests" -q --show-diff "${valgrind_args[@]}" \
    -d "extension=$EXT" \
    -d "weixin.memcache_servers=$WEIXIN_TEST_MEMCACHED" \
    -d "weixin.api_base_url=$WEIXIN_TEST_API" \
    "${targets[@]}" 2>&1 | tee "$log" || true

passed=$(sed -n 's/^Tests passed *: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
failed=$(sed -n 's/^Tests failed *: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
skipped=$(sed -n 's/^Tests skipped *: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
borked=$(sed -n 's/^Tests borked *: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
leaked=$(sed -n 's/^Tests leaked *: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
warned=$(sed -n 's/^Tests warned *: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
# run-tests runs a failed test a second time when its FILE section calls
# sleep, usleep, microtime, hrtime or disk_free_space (or its output says
# "timed out", "connection refused", ...), and reports a pass on that retry
# as WARN "(warn: Test passed on retry attempt)". Such a test failed once: it
# counts as failed here, and is named. "Tests warned" also counts the other
# WARN passes (an XFAIL or XLEAK section whose test passes): those stay
# passed. A retry that leaks is LEAK&WARN, counted as leaked. Result lines
# are read without colours and progress ("TEST i/n ...\r" before them).
flaky=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | tr '\r' '\n' \
    | sed -n 's/^WARN \(.* \[[^]]*\]\) *(warn: Test passed on retry attempt)$/\1/p')
retried=0; [ -z "$flaky" ] || retried=$(printf '%s\n' "$flaky" | wc -l)
printf '%s\n' "$flaky" | sed '/^$/d; s/^/==> flaky (passed only on retry): /' >&2
passed=$(( ${passed:-0} + ${warned:-0} - retried ))
failed=$(( ${failed:-0} + ${borked:-0} + ${leaked:-0} + retried ))
# A skipped test checked nothing: here every test's needs are installed,
# so a skip is a failure of the set-up (under valgrind, timing tests skip).
((${#valgrind_args[@]})) || failed=$(( failed + ${skipped:-0} ))
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then failed=1; say "no phpt result found"; fi
# The failures' diffs again, last: CI logs are often read from the end.
for diff in "$ROOT"/php-tests/*.diff; do
    [ -f "$diff" ] || continue
    say "diff of ${diff#"$ROOT"/} (expected -, got +):"
    head -n 40 "$diff" | sed '$a\' >&2 # a diff may lack its last newline
done
[ -s "$WEIXIN_TEST_REPORT" ] && { say "figures measured by the tests:"; cat "$WEIXIN_TEST_REPORT" >&2; }
[ "$cargo_status" -eq 0 ] || say "cargo test FAILED"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$cargo_status" -eq 0 ]
