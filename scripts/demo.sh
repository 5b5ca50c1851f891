#!/usr/bin/env bash
# The main job: the seed article's script (examples/seed.php) with the
# extension loaded, against a throwaway memcached and the local WeChat
# stand-in. With WEIXIN_APPID and WEIXIN_APPSECRET set in the environment it
# talks to the real WeChat API instead of the stand-in. PHP_CONFIG chooses
# the PHP (see scripts/lib.sh).
source "$(dirname "$0")/lib.sh"

ensure_deps
build_ext
start_memcached MC_PORT
php_args=(-d "extension=$EXT" -d "weixin.memcache_servers=127.0.0.1:$MC_PORT")
if [ -n "${WEIXIN_APPID:-}" ] && [ -n "${WEIXIN_APPSECRET:-}" ]; then
    say "using the real WeChat API for $WEIXIN_APPID"
else
    start_standin API_PORT
    php_args+=(-d "weixin.api_base_url=http://127.0.0.1:$API_PORT")
    say "using the local WeChat stand-in on 127.0.0.1:$API_PORT"
fi

say "php examples/seed.php (cold cache: fetches a token and caches it)"
"$PHP" "${php_args[@]}" "$ROOT/examples/seed.php"
say "php examples/seed.php again (warm cache: the same token, no fetch)"
"$PHP" "${php_args[@]}" "$ROOT/examples/seed.php"
if [ -n "${API_PORT:-}" ]; then
    calls=$(python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["token_calls"])' \
        "http://127.0.0.1:$API_PORT/__admin/stats?appid=wx1111111111111111")
    say "token requests the stand-in received: $calls"
fi
