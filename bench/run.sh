#!/usr/bin/env bash
# The benchmark (not part of the test suite): the extension against a
# userland baseline that behaves like the legacy class, on this machine,
# against one memcached and the local WeChat stand-in, in one run.
#   bench/run.sh            # prints a markdown table of the figures
source "$(dirname "$0")/../scripts/lib.sh"

ensure_deps
build_ext
start_memcached MC_PORT
start_standin API_PORT
export BENCH_MEMCACHED="127.0.0.1:$MC_PORT" BENCH_API="http://127.0.0.1:$API_PORT"
export WEIXIN_TEST_EXT="$EXT" WEIXIN_TEST_MEMCACHED="$BENCH_MEMCACHED" WEIXIN_TEST_API="$BENCH_API"
say "benchmarking (memcached $BENCH_MEMCACHED, stand-in $BENCH_API); this takes a few minutes"
php "$ROOT/bench/run.php"
