#!/usr/bin/env bash
# The benchmark (not part of the test suite): the extension against a
# userland baseline that behaves like the legacy class, on this machine,
# against one memcached (and twemproxy in front of it, for the classic text
# protocol through a proxy) and the local WeChat stand-in, in one run.
#   bench/run.sh                 # prints a markdown table of the figures
#   bench/run.sh --against REV   # and the same figures for git revision REV
#                                # (or a source tree, where there is no git, as
#                                # in a matrix chroot), measured in the same run
#                                # (no regression?)
#   bench/run.sh --zts [--against REV]
#                                # the ZTS figure instead (bench/zts.php): needs a
#                                # thread-safe PHP with the embed SAPI, e.g.
#                                # scripts/matrix.sh exec zts bench/run.sh --zts
source "$(dirname "$0")/../scripts/lib.sh"

figures=run.php
if [ "${1:-}" = "--zts" ]; then
    figures=zts.php
    shift
fi
ensure_deps
build_ext
if [ "${1:-}" = "--against" ]; then
    rev=${2:?bench/run.sh --against needs a git revision}
    say "building $rev for comparison"
    if [ -d "$rev" ]; then
        source_tree=$rev
    else
        source_tree="$RUN_DIR/against"
        git -C "$ROOT" worktree add -q --detach "$source_tree" "$rev"
        trap 'git -C "$ROOT" worktree remove --force "$RUN_DIR/against"; cleanup' EXIT
    fi
    (cd "$source_tree" && PHP="$PHP" PHP_CONFIG="$PHP_CONFIG" CARGO_TARGET_DIR="$ROOT/target/against" \
        cargo build --release --quiet)
    export BENCH_AGAINST_EXT="$ROOT/target/against/release/libweixin.so" BENCH_AGAINST_REV="$rev"
fi
start_memcached MC_PORT
start_standin API_PORT
export BENCH_MEMCACHED="127.0.0.1:$MC_PORT" BENCH_API="http://127.0.0.1:$API_PORT"
# The twemproxy rows are extra: without nutcracker the rest still runs.
if start_twemproxy TW_PORT "$MC_PORT"; then
    export BENCH_TWEMPROXY="127.0.0.1:$TW_PORT"
else
    say "twemproxy did not start: no twemproxy rows"
fi
export WEIXIN_TEST_EXT="$EXT" WEIXIN_TEST_MEMCACHED="$BENCH_MEMCACHED" WEIXIN_TEST_API="$BENCH_API"
say "benchmarking (memcached $BENCH_MEMCACHED, stand-in $BENCH_API); this takes a few minutes"
PHP_CONFIG="$PHP_CONFIG" "$PHP" "$ROOT/bench/$figures"
