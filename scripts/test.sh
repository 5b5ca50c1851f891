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
#
# The PHP tested is PHP_CONFIG's (a php-config; default: php-config on the
# PATH, else Debian's PHP, installed): its CLI runs the tests, its
# run-tests.php and php-fpm are used, the extension is built for it (into
# CARGO_TARGET_DIR if set). Every skip counts as a failure, except those
# explained by what this PHP lacks, which are named: the PECL memcache client
# (Debian has no php8.5-memcache; its interop tests skip), the PECL memcached
# client (its interop test skips), thread safety (the threads test needs ZTS).
source "$(dirname "$0")/lib.sh"

valgrind_args=()
if [ "${1:-}" = "--valgrind" ]; then
    shift
    APT_PACKAGES+=(valgrind)
    # PCRE's JIT writes code valgrind cannot follow; -q with these options
    # makes a definite leak an error, which run-tests reports as LEAK.
    valgrind_args=(-m -d pcre.jit=0)
    # run-tests traces children (PHP processes a test starts are checked
    # too); the Python helpers a test starts (forward proxy, memcached
    # stand-ins) are not this project's, and under memcheck they start too
    # slowly for the tests that wait for them.
    export VALGRIND_OPTS="--leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --suppressions=$ROOT/php-tests/valgrind.supp --trace-children-skip=*python3*"
fi

ensure_deps
build_ext

say "cargo test"
cargo_status=0
(cd "$ROOT" && PHP="$PHP" PHP_CONFIG="$PHP_CONFIG" cargo test --release --quiet --workspace) || cargo_status=$?
[ -n "$RUN_TESTS" ] || { say "no run-tests.php for PHP $PHP_VER ($PHP_CONFIG): looked in $PHP_EXT_DIR/build, $PHP_PREFIX/lib/php/build and (Debian) /usr/lib/php/$PHP_API/build"; exit 1; }

# What this PHP lacks that some tests need: those tests skip, with reasons
# starting so (and only these skips are expected).
expected_skips=()
unset WEIXIN_TEST_NO_MEMCACHE
if ! "$PHP" -r 'exit(class_exists("Memcache") ? 0 : 1);' 2>/dev/null; then
    export WEIXIN_TEST_NO_MEMCACHE=1
    expected_skips+=("PECL memcache not installed (interop only)")
    say "PHP $PHP_VER has no PECL memcache client: its interop tests skip, the others read memcached directly"
fi
if ! "$PHP" -r 'exit(class_exists("Memcached") ? 0 : 1);' 2>/dev/null; then
    expected_skips+=("PECL memcached not installed (interop only)")
    say "PHP $PHP_VER has no PECL memcached client: its interop test skips"
fi
if ! "$PHP" -n -r 'exit(PHP_ZTS ? 0 : 1);'; then
    expected_skips+=("needs a thread-safe PHP")
    say "PHP $PHP_VER is not thread-safe (NTS): the threads test skips"
fi

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
export TEST_PHP_EXECUTABLE=$PHP
export NO_INTERACTION=1

targets=("$@"); ((${#targets[@]})) || targets=("$ROOT/php-tests")
say "phpt suite (memcached 127.0.0.1:$MC_PORT, stand-in :$API_PORT, TLS stand-in :$TLS_PORT) with $RUN_TESTS"
log="$RUN_DIR/run-tests.log"
touch "$RUN_DIR/started"
"$PHP" "$RUN_TESTS" -q --show-diff "${valgrind_args[@]}" \
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
# A skipped test checked nothing: here every test's needs are installed, so
# a skip is a failure of the set-up, unless its reason is an optional
# dependency found missing above (under valgrind, timing tests skip too).
# Result lines: "SKIP <title> [<file>] reason: <reason>".
if ! ((${#valgrind_args[@]})); then
    expected=0
    while IFS=$'\t' read -r file reason; do
        [ -n "$file" ] || continue
        known=""
        for prefix in "${expected_skips[@]}"; do [[ $reason != "$prefix"* ]] || known=1; done
        if [ -n "$known" ]; then
            expected=$((expected + 1))
            say "skipped, expected (${reason}): ${file#"$ROOT"/}"
        else
            say "skipped, counted as failed (${reason:-no reason given}): ${file#"$ROOT"/}"
        fi
    done < <(sed 's/\x1b\[[0-9;]*m//g' "$log" | tr '\r' '\n' \
        | sed -n 's/^SKIP .* \[\([^]]*\)\] reason: \(.*\)$/\1\t\2/p; s/^SKIP .* \[\([^]]*\)\] *$/\1\t/p')
    failed=$(( failed + ${skipped:-0} - expected ))
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then failed=1; say "no phpt result found"; fi
# The failures' diffs again, last: CI logs are often read from the end.
# (Only this run's: a .diff left by an earlier run of another test is old.)
for diff in "$ROOT"/php-tests/*.diff; do
    [ -f "$diff" ] && [ "$diff" -nt "$RUN_DIR/started" ] || continue
    say "diff of ${diff#"$ROOT"/} (expected -, got +):"
    head -n 40 "$diff" | sed '$a\' >&2 # a diff may lack its last newline
done
[ -s "$WEIXIN_TEST_REPORT" ] && { say "figures measured by the tests:"; cat "$WEIXIN_TEST_REPORT" >&2; }
[ "$cargo_status" -eq 0 ] || say "cargo test FAILED"
((${#expected_skips[@]} == 0)) || say "expected skips: ${expected:-0} (reasons starting: $(printf '"%s" ' "${expected_skips[@]}"))"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$cargo_status" -eq 0 ]
