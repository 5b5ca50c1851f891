--TEST--
Clock skew between machines (±15 min, libfaketime) changes nothing, over meta commands and over classic ones (a memcached 1.4/1.5): times shared through memcached are durations memcached measures, so no machine replaces a fresh token or serves an expired one
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$ini = ['weixin.cache_key' => 'skew_{appid}', 'weixin.local_cache_ttl' => '0'];
// Without meta commands, memcached cannot say how long a key has left: the
// classic path learns that a token is due when its record is gone.
[$old, $old_port] = start_old_memcached(test_memcached_port());
$servers = ['meta' => getenv('WEIXIN_TEST_MEMCACHED'), 'classic' => "127.0.0.1:$old_port"];

// Processes of three machines: one on time, one 15 min ahead, one 15 min
// behind; over each protocol.
$machines = [];
foreach ($servers as $protocol => $server) {
    $here = ['weixin.memcache_servers' => $server] + $ini;
    $machines[$protocol] = [
        'on time' => spawn_constructor($here),
        '+15m' => spawn_constructor($here, skewed_env('+15m')),
        '-15m' => spawn_constructor($here, skewed_env('-15m')),
    ];
}

// libfaketime reaches PHP and, preloaded with it, the extension.
foreach (['+15m', '-15m'] as $skew) {
    $probe = spawn_child('return [time(), extension_loaded("weixin")];', $ini, skewed_env($skew));
    [$then, $loaded] = ask($probe, 'go');
    printf("%s: clock off by %+d min, extension loaded: %s\n", $skew, round(($then - time()) / 60), $loaded ? 'yes' : 'no');
    echo stop_child($probe);
}

// (a) A token fetched on one machine is served as it is on the other, both ways.
foreach ($machines as $protocol => $machine) {
    foreach (['+15m', '-15m'] as $skew) {
        foreach ([['on time', $skew], [$skew, 'on time']] as [$first, $then]) {
            $appid = test_appid('skew');
            reset_account($appid, ['expires_in' => 20]);
            $a = ask($machine[$first], $appid);
            $b = ask($machine[$then], $appid);
            printf("%s: fetched %s, then read %s: same token: %s, upstream calls: %d\n", $protocol, $first, $then,
                isset($a['token'], $b['token']) && $a['token'] === $b['token'] ? 'yes' : 'no ' . json_encode([$a, $b]),
                stats($appid)['token_calls']);
            forget_token("skew_$appid");
            reset_account($appid);
        }
    }
}

// (b) Two machines construct in turn for more than a token's lifetime
// (8 s, due after 5 s: refresh_margin=3), for each skew and for two processes
// with one clock (the baseline), without and with the process-local cache.
// Every token served must be usable at that moment: the stand-in accepts it
// (local_cache_ttl=0) or replaced it a moment ago (below), or, with the
// local cache, it has not expired (its expiry recorded when the stand-in
// issued it) and was not replaced more than a second and a half ago (a process may keep a token for the moment
// memcached's whole-second clock blurs; WeChat itself accepts a replaced
// token for minutes, the stand-in not at all). And the two machines together
// call WeChat no more often than the baseline, plus one. Over classic
// commands, without the local cache.
$children = [];
$pairs = [];
foreach (['local_cache_ttl=0' => ['0', 'meta'], 'local_cache_ttl=60' => ['60', 'meta'],
    'classic commands, local_cache_ttl=0' => ['0', 'classic']] as $config => [$ttl, $protocol]) {
    $cached = ['weixin.cache_key' => 'skew_{appid}', 'weixin.local_cache_ttl' => $ttl, 'weixin.refresh_margin' => '3',
        'weixin.memcache_servers' => $servers[$protocol]];
    foreach (['on time', 'on time too', '+15m', '-15m'] as $clock) {
        $children[$config][$clock] = spawn_constructor($cached, str_starts_with($clock, 'on') ? [] : skewed_env($clock));
    }
    foreach (['same clock' => 'on time too', '+15m' => '+15m', '-15m' => '-15m'] as $label => $other) {
        $appid = test_appid('skew');
        reset_account($appid, ['expires_in' => 8]);
        $pairs["$config, $label"] = ['appid' => $appid, 'ttl' => $ttl, 'config' => $config, 'served' => 0, 'refused' => [],
            'children' => [$children[$config]['on time'], $children[$config][$other]], 'issued' => [], 'current' => null];
    }
}
$start = mark_time();
while (mark_time($start) < 9.5) {
    foreach ($pairs as &$pair) {
        foreach ($pair['children'] as $child) {
            $got = ask($child, $pair['appid']);
            $now = mark_time($start);
            $stats = stats($pair['appid']);
            if ($stats['current_token'] !== $pair['current']) {
                if ($pair['current'] !== null) {
                    $pair['issued'][$pair['current']]['replaced'] = $now;
                }
                $pair['current'] = $stats['current_token'];
                $pair['issued'][$pair['current']] = ['expires' => $now + $stats['current_token_expires_in'], 'replaced' => null];
            }
            $issued = $pair['issued'][$got['token'] ?? ''] ?? null;
            if (!isset($got['token'])) {
                $verdict = 'exception ' . ($got['code'] ?? '?');
            } elseif ($pair['ttl'] === '0') {
                $verdict = token_verdict($got['token']);
                // The construction that finds a token due serves it while a
                // thread replaces it: the stand-in refuses a replaced token at
                // once, WeChat keeps it valid 5 minutes. Accepted, as below,
                // for the moment memcached's whole-second clock blurs.
                $replacedNow = $verdict !== 'ok' && $got['token'] === $pair['current']
                    && stats($pair['appid'])['current_token'] !== $got['token'];
                $replacedLately = $issued !== null && $issued['replaced'] !== null && $now - $issued['replaced'] <= 1.5;
                if ($verdict !== 'ok' && ($replacedNow || $replacedLately)) {
                    $verdict = 'ok';
                }
            } elseif ($issued === null) {
                $verdict = 'unknown token';
            } elseif ($now >= $issued['expires']) {
                $verdict = 'expired';
            } elseif ($issued['replaced'] !== null && $now - $issued['replaced'] > 1.5) {
                $verdict = 'replaced';
            } else {
                $verdict = 'ok';
            }
            if ($verdict === 'ok') {
                $pair['served']++;
            } else {
                $pair['refused'][$verdict] = ($pair['refused'][$verdict] ?? 0) + 1;
            }
        }
    }
    unset($pair);
    pause_ms(50);
}
foreach ($pairs as $label => $pair) {
    $calls = stats($pair['appid'])['token_calls'];
    $baseline = stats($pairs["{$pair['config']}, same clock"]['appid'])['token_calls'];
    printf("%s: every token accepted when served: %s; upstream calls within the baseline + 1: %s\n", $label,
        $pair['refused'] ? 'no ' . json_encode($pair['refused']) . " ({$pair['served']} accepted)" : 'yes',
        $calls >= 2 && $calls <= $baseline + 1 && $baseline <= 4 ? 'yes' : "no ($calls, baseline $baseline)");
}
foreach ($pairs as $pair) {
    forget_token("skew_{$pair['appid']}");
    reset_account($pair['appid']);
}
foreach ([...$machines, ...$children] as $group) {
    foreach ($group as $child) {
        echo stop_child($child);
    }
}
proc_terminate($old);
proc_close($old);
?>
--EXPECT--
+15m: clock off by +15 min, extension loaded: yes
-15m: clock off by -15 min, extension loaded: yes
meta: fetched on time, then read +15m: same token: yes, upstream calls: 1
meta: fetched +15m, then read on time: same token: yes, upstream calls: 1
meta: fetched on time, then read -15m: same token: yes, upstream calls: 1
meta: fetched -15m, then read on time: same token: yes, upstream calls: 1
classic: fetched on time, then read +15m: same token: yes, upstream calls: 1
classic: fetched +15m, then read on time: same token: yes, upstream calls: 1
classic: fetched on time, then read -15m: same token: yes, upstream calls: 1
classic: fetched -15m, then read on time: same token: yes, upstream calls: 1
local_cache_ttl=0, same clock: every token accepted when served: yes; upstream calls within the baseline + 1: yes
local_cache_ttl=0, +15m: every token accepted when served: yes; upstream calls within the baseline + 1: yes
local_cache_ttl=0, -15m: every token accepted when served: yes; upstream calls within the baseline + 1: yes
local_cache_ttl=60, same clock: every token accepted when served: yes; upstream calls within the baseline + 1: yes
local_cache_ttl=60, +15m: every token accepted when served: yes; upstream calls within the baseline + 1: yes
local_cache_ttl=60, -15m: every token accepted when served: yes; upstream calls within the baseline + 1: yes
classic commands, local_cache_ttl=0, same clock: every token accepted when served: yes; upstream calls within the baseline + 1: yes
classic commands, local_cache_ttl=0, +15m: every token accepted when served: yes; upstream calls within the baseline + 1: yes
classic commands, local_cache_ttl=0, -15m: every token accepted when served: yes; upstream calls within the baseline + 1: yes
