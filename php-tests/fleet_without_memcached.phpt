--TEST--
A fleet without memcached: processes holding no token converge on one non-forced stable token (no plain fetch, nothing invalidated); refresh_access_token() is throttled (at most 3 upstream calls per process, never forced); when memcached answers again one token is shared through the lock: the degraded one if memcached is empty, the one memcached kept otherwise
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';
// Every memcached and child of this test is stopped at the end, even on failure.
$servers = $children = [];
register_shutdown_function(function () use (&$servers, &$children) {
    foreach ($children as $child) if (is_resource($child['process'])) stop_child($child);
    foreach ($servers as $server) if (is_resource($server)) { fleet_signal_memcached($server, false); stop_memcached($server); }
});
// A child answers "once APPID" with one construction, and "until_shared
// APPID PORT KEY" by constructing until memcached holds the token it serves.
$code = '$a = explode(" ", $line);
    return $a[0] === "once" ? construct_once($a[1]) : fleet_serve_until_shared($a[1], (int) $a[2], $a[3]);';
$fleet = function (int $port) use ($code, &$children): array {
    $ini = ['weixin.memcache_servers' => "127.0.0.1:$port", 'weixin.cache_key' => 'fleet_{appid}', 'weixin.local_cache_ttl' => '0'];
    $new = [];
    for ($i = 0; $i < 5; $i++) $children[] = $new[] = spawn_child($code, $ini);
    return $new;
};
$ask_all = function (array $fleet, string $line): array {
    foreach ($fleet as $child) send($child, $line);
    return array_map(fn ($child) => receive($child), $fleet);
};
$calls = fn (array $s) => "plain {$s['token_calls']}, stable " . ($s['stable_calls'] >= 1 ? 'at least 1' : 'none')
    . ", stable tokens issued {$s['stable_tokens_issued']}, forced {$s['force_refresh_calls']}";

// 1. Nothing listens where memcached was: 5 processes holding no token all
// get the same non-forced stable token; nobody invalidates anybody's.
[$memcached, $port] = fleet_start_memcached();
stop_memcached($memcached);
$appid = test_appid('fleet');
reset_account($appid);
$down = $fleet($port);
$first = array_map(fn ($r) => $r['token'] ?? 'no token', $ask_all($down, "once $appid"));
$degraded = $first[0];
echo "memcached down, 5 processes: distinct tokens ", count(array_unique($first)), ", current: ",
    token_is_current($degraded) ? 'yes' : 'no', "\n";
echo "  upstream: ", $calls(stats($appid)), "\n";

// memcached back on that port, empty: the first process to take the lock
// publishes its still-valid degraded token; nobody fetches.
$servers[] = fleet_start_memcached([], $port)[0];
$final = $ask_all($down, "until_shared $appid $port fleet_$appid");
echo "memcached back (empty): ", count(array_filter($final, fn ($r) => ($r['shared'] ?? false) && $r['token'] === $degraded)),
    " of 5 serve the degraded token and memcached holds it, current: ", token_is_current($degraded) ? 'yes' : 'no', "\n";
echo "  upstream: ", $calls($before = stats($appid)), "\n";
$fresh = run_parallel(3, 'echo (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;',
    ['weixin.memcache_servers' => "127.0.0.1:$port", 'weixin.cache_key' => 'fleet_{appid}'], ['APPID' => $appid]);
$after = stats($appid);
echo "  new processes: ", count(array_filter($fresh, fn ($r) => $r['out'] === $degraded && $r['err'] === '')),
    " of 3 serve it with no warning, upstream calls since: ",
    $after['token_calls'] + $after['stable_calls'] - $before['token_calls'] - $before['stable_calls'], "\n";

// 2. memcached holds a valid token and stops answering (paused: it keeps
// its data). Processes holding no token get the stable token meanwhile;
// once memcached answers, they adopt the token it kept.
[$memcached, $port] = fleet_start_memcached();
$servers[] = $memcached;
$appid = test_appid('fleetkept');
reset_account($appid);
ini_set('weixin.memcache_servers', "127.0.0.1:$port");
ini_set('weixin.cache_key', 'fleet_{appid}');
$kept = (new class_weixin($appid, TEST_SECRET))->access_token;
echo "paused: ", fleet_signal_memcached($memcached, true) ? 'yes' : 'no', "\n";
$paused = $fleet($port);
$first = array_map(fn ($r) => $r['token'] ?? 'no token', $ask_all($paused, "once $appid"));
echo "memcached paused, 5 processes: distinct tokens ", count(array_unique($first)), ", current: ",
    token_is_current($first[0]) ? 'yes' : 'no', ", the kept one: ", $first[0] === $kept ? 'yes' : 'no', "\n";
echo "  upstream: ", $calls(stats($appid)), "\n";
echo "resumed: ", fleet_signal_memcached($memcached, false) ? 'yes' : 'no', "\n";
$final = $ask_all($paused, "until_shared $appid $port fleet_$appid");
echo "memcached answers again: ", count(array_filter($final, fn ($r) => ($r['shared'] ?? false) && $r['token'] === $kept)),
    " of 5 serve the token memcached kept, current: ", token_is_current($kept) ? 'yes' : 'no', "\n";
echo "  upstream: ", $calls(stats($appid)), "\n";

// 3. refresh_access_token() without memcached: at most 3 upstream calls per
// process (its construction included), never forced; then an exception that
// says why, at once.
stop_memcached($memcached); // now nothing listens on $port
$appid = test_appid('fleetthrottle');
reset_account($appid);
[$run] = run_parallel(1, '$w = new class_weixin(getenv("APPID"), TEST_SECRET);
    $seen = [token_is_current($w->access_token) ? "token" : "dead"];
    for ($i = 0; $i < 5; $i++) {
        try {
            $seen[] = token_is_current($w->refresh_access_token()) ? "token" : "dead";
        } catch (WeixinException $e) {
            $seen[] = preg_match("/throttl/i", $e->getMessage()) && stripos($e->getMessage(), "memcached") !== false ? "throttled" : "error";
        }
    }
    echo implode(" ", $seen);', ['weixin.memcache_servers' => "127.0.0.1:$port", 'weixin.cache_key' => 'fleet_{appid}'],
    ['APPID' => $appid]);
echo "without memcached, a construction and 5 refreshes: ",
    preg_match('/^token( token)* throttled( throttled)*$/', $run['out']) ? 'current tokens, then throttled' : without_retry_words($run['out']), "\n";
$s = stats($appid);
$total = $s['token_calls'] + $s['stable_calls'];
echo "  upstream calls by that process: ", $total >= 1 && $total <= 3 ? 'at most 3' : $total, ", plain {$s['token_calls']}, forced {$s['force_refresh_calls']}\n";
?>
--EXPECT--
memcached down, 5 processes: distinct tokens 1, current: yes
  upstream: plain 0, stable at least 1, stable tokens issued 1, forced 0
memcached back (empty): 5 of 5 serve the degraded token and memcached holds it, current: yes
  upstream: plain 0, stable at least 1, stable tokens issued 1, forced 0
  new processes: 3 of 3 serve it with no warning, upstream calls since: 0
paused: yes
memcached paused, 5 processes: distinct tokens 1, current: yes, the kept one: no
  upstream: plain 1, stable at least 1, stable tokens issued 1, forced 0
resumed: yes
memcached answers again: 5 of 5 serve the token memcached kept, current: yes
  upstream: plain 1, stable at least 1, stable tokens issued 1, forced 0
without memcached, a construction and 5 refreshes: current tokens, then throttled
  upstream calls by that process: at most 3, plain 0, forced 0
