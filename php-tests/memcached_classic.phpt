--TEST--
Servers without meta commands (a memcached 1.4/1.5 that answers them ERROR, and twemproxy in front of two memcached): asked once, no warning, one token request for 20 processes, shared with the PECL memcache client both ways, replaced ahead once; weixin.memcache_protocol pins the protocol
--SKIPIF--
<?php
if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind');
if (!class_exists('Memcache')) die('skip PECL memcache not installed (interop only)');
?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';

/** $count processes run $code (the token's constructions) at once: their outputs and warnings. */
function fleet(int $count, string $appid, string $server, string $code, array $ini = []): array
{
    $results = run_parallel($count, $code,
        ['weixin.memcache_servers' => $server, 'weixin.cache_key' => 'classic_{appid}'] + $ini, ['APPID' => $appid]);
    $errors = array_unique(array_filter(array_map(fn($r) => trim($r['err']), $results)));
    return [array_column($results, 'out'), $errors];
}

const CONSTRUCT = 'echo (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;';

[$backend, $backend_port] = fleet_start_memcached();
[$old, $old_port, $old_refusals] = start_old_memcached($backend_port);
[$one, $port_one] = fleet_start_memcached();
[$two, $port_two] = fleet_start_memcached();
$twemproxy = start_twemproxy([$port_one, $port_two]);

foreach (['memcached 1.4/1.5' => "127.0.0.1:$old_port", 'twemproxy' => "127.0.0.1:{$twemproxy[1]}"] as $name => $server) {
    echo "== $name\n";
    $legacy = pecl_memcache([$server]);

    // Cold: one token request for the fleet.
    $appid = test_appid('classic');
    reset_account($appid);
    [$tokens, $errors] = fleet(20, $appid, $server, CONSTRUCT);
    echo "cold: ", count(array_unique($tokens)), " token, ", stats($appid)['token_calls'], " token request\n";
    echo "warnings: ", $errors ? implode(' | ', $errors) : 'none', "\n";
    if ($name === 'memcached 1.4/1.5') {
        echo "meta commands refused: ", old_memcached_refused($old_refusals), " (one probe per process)\n";
    }
    echo "the PECL client reads it: ", $legacy->get("classic_$appid") === $tokens[0] ? 'yes' : 'no', "\n";

    // A token the PECL client cached (as the legacy class does) is taken,
    // and replaced by one process: nothing says how old it is.
    $appid = test_appid('classic');
    reset_account($appid);
    $legacy->set("classic_$appid", "LEGACY_$appid", 0, 7200);
    [$tokens] = fleet(20, $appid, $server, CONSTRUCT);
    $now = $legacy->get("classic_$appid");
    $served = array_unique($tokens);
    sort($served);
    echo "legacy token: served ", count($served) === 1 || in_array("LEGACY_$appid", $served) ? 'it or its replacement' : implode(',', $served),
        ", ", stats($appid)['token_calls'], " token request, the PECL client reads the new one: ",
        $now !== "LEGACY_$appid" && token_is_current($now) ? 'yes' : 'no', "\n";

    // Refresh ahead: due 3 s into a 6-s life, replaced once while 6
    // processes keep constructing across it (its replacement lives 600 s:
    // however slow the machine, no third token).
    $appid = test_appid('classic');
    reset_account($appid, ['expires_in' => 6]);
    $ini = ['weixin.refresh_margin' => '3', 'weixin.local_cache_ttl' => '0'];
    [$first] = fleet(1, $appid, $server, CONSTRUCT, $ini);
    standin('/__admin/configure', ['appid' => $appid, 'expires_in' => 600]);
    [$seen, $errors] = fleet(6, $appid, $server, '
        $seen = [];
        while (microtime(true) < (float) getenv("START_AT") + 6) {
            $seen[(new class_weixin(getenv("APPID"), TEST_SECRET))->access_token] = 1;
            usleep(20000);
        }
        echo implode(",", array_keys($seen));', $ini);
    $all = array_unique(explode(',', implode(',', $seen)));
    echo "refresh ahead: ", count($all), " tokens served, ", stats($appid)['token_calls'], " token requests, ",
        in_array($first[0], $all) ? 'the first then its replacement' : 'not the first', "\n";
    echo "warnings: ", $errors ? implode(' | ', $errors) : 'none', "\n";
}

echo "== weixin.memcache_protocol\n";
$appid = test_appid('classic');
reset_account($appid);
$before = old_memcached_refused($old_refusals);
[$tokens, $errors] = fleet(1, $appid, "127.0.0.1:$old_port", CONSTRUCT, ['weixin.memcache_protocol' => 'text']);
echo "text: ", old_memcached_refused($old_refusals) - $before, " refused, warnings: ", $errors ? 'some' : 'none', "\n";
[$tokens, $errors] = fleet(1, $appid, "127.0.0.1:$old_port", CONSTRUCT, ['weixin.memcache_protocol' => 'meta']);
echo "meta on a server without it: ", str_contains(implode('', $errors), 'weixin.memcache_protocol=meta needs memcached 1.6 or newer') ? 'the warning names the setting' : implode('', $errors), "\n";

stop_twemproxy($twemproxy);
foreach ([$old, $one, $two] as $process) stop_memcached($process);
stop_memcached($backend);
?>
--EXPECT--
== memcached 1.4/1.5
cold: 1 token, 1 token request
warnings: none
meta commands refused: 20 (one probe per process)
the PECL client reads it: yes
legacy token: served it or its replacement, 1 token request, the PECL client reads the new one: yes
refresh ahead: 2 tokens served, 2 token requests, the first then its replacement
warnings: none
== twemproxy
cold: 1 token, 1 token request
warnings: none
the PECL client reads it: yes
legacy token: served it or its replacement, 1 token request, the PECL client reads the new one: yes
refresh ahead: 2 tokens served, 2 token requests, the first then its replacement
warnings: none
== weixin.memcache_protocol
text: 0 refused, warnings: none
meta on a server without it: the warning names the setting
