--TEST--
ZTS, real threads: 8 threads of one embedded PHP (php-tests/zts/harness.c) x many requests construct class_weixin: one account -> one upstream call, one token, every thread served it, also with other INI values per thread; an account (and key) per thread -> one call and one token each; no leak reports, no assertion, exit 0
--SKIPIF--
<?php
require __DIR__ . '/zts/harness.inc';
if ($why = zts_unavailable()) die("skip $why");
?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';
require __DIR__ . '/zts/harness.inc';

const THREADS = 8;
const REQUESTS = 25;
const CONSTRUCTIONS = 40;

/** The plain value memcached holds under $key, or null. */
function memcached_value(string $key): ?string
{
    $reply = memcached_command("get $key");
    return preg_match('/^VALUE \S+ \d+ \d+\r\n(.*)\r\nEND\r\n$/s', $reply, $m) ? $m[1] : null;
}

/** What every run must show: all requests ran, nothing but tokens printed, nothing on stderr. */
function check_run(string $title, array $run): void
{
    echo "-- $title\n";
    echo "exit status: {$run['status']}\n";
    echo $run['summary'], "\n";
    $trouble = zts_trouble($run);
    echo 'errors, warnings, leak reports, assertions: ', $trouble ? "\n  " . implode("\n  ", $trouble) : 'none', "\n";
}

/** One account served to every thread: its tokens, calls, and who served it. */
function check_account(array $run, string $appid, string $key, int $perRequest): void
{
    $tokens = zts_tokens($run, $appid);
    $token = array_key_first($tokens);
    $everywhere = 0;
    foreach ($run['threads'] as $requests) {
        $served = array_filter($requests, fn ($r) => ($r['tokens'][$appid] ?? []) === [$token => $perRequest]);
        $everywhere += count($requests) === REQUESTS && count($served) === REQUESTS ? 1 : 0;
    }
    $stats = stats($appid);
    echo 'distinct tokens: ', count($tokens), "\n";
    echo 'constructions served: ', array_sum($tokens), "\n";
    echo "threads that served it in each request ($perRequest times): $everywhere\n";
    echo "upstream calls: {$stats['token_calls']} (stable {$stats['stable_calls']})\n";
    echo 'concurrent upstream requests at most: ', $stats['in_flight_max'], "\n";
    echo 'the token is current: ', $token !== null && token_is_current($token) ? 'yes' : 'no', "\n";
    echo 'memcached holds it: ', $token !== null && memcached_value($key) === $token ? 'yes' : 'no', "\n";
}

$harness = zts_build_harness();
$env = ['ZTS_SECRET' => TEST_SECRET, 'ZTS_CONSTRUCTIONS' => (string) CONSTRUCTIONS, 'ZTS_SPREAD' => 'own'];

// 1. One account, the same settings everywhere; a slow WeChat (200 ms), so
// that the 7 threads that lose the lock wait for the winner's token.
$appid = test_appid('ztsone');
reset_account($appid, ['delay_ms' => 200]);
$run = zts_run($harness, THREADS, REQUESTS, $env + ['ZTS_APPIDS' => $appid], ['weixin.cache_key' => 'zts_{appid}']);
check_run('one account, the same INI values in every thread', $run);
check_account($run, $appid, "zts_$appid", CONSTRUCTIONS);

// 2. One account, other INI values in each thread, set at each request's
// start (as a threaded server's per-host values): some threads read memcached
// on every construction, some keep the token for a while.
$threadIni = [
    'weixin.local_cache_ttl' => ['0', '1', '60', '0', '5', '0', '30', '2'],
    'weixin.timeout' => ['5', '30', '1', '10'],
    'weixin.refresh_margin' => ['300', '600', '1200', '60', '900'],
    'weixin.token_timeout' => ['5', '3', '10'],
];
$appid = test_appid('ztsini');
reset_account($appid, ['delay_ms' => 200]);
$run = zts_run($harness, THREADS, REQUESTS, $env + ['ZTS_APPIDS' => $appid], ['weixin.cache_key' => 'zts_{appid}'], $threadIni);
check_run('one account, other INI values in each thread', $run);
check_account($run, $appid, "zts_$appid", CONSTRUCTIONS);
$ownSettings = 0;
foreach ($run['threads'] as $thread => $requests) {
    $expected = ['local_cache_ttl' => $threadIni['weixin.local_cache_ttl'][$thread % 8],
        'timeout' => $threadIni['weixin.timeout'][$thread % 4],
        'refresh_margin' => $threadIni['weixin.refresh_margin'][$thread % 5]];
    $ownSettings += count(array_filter($requests,
        fn ($r) => array_intersect_key($r['ini'] ?? [], $expected) == $expected)) === REQUESTS ? 1 : 0;
}
echo "threads that saw their own values in each request: $ownSettings\n";
// Each request's own values are read once, in that request: one thread's
// changes are nothing to the others' settings.
$reads = max(array_map(fn ($requests) => max(array_map(fn ($r) => (int) ($r['ini']['settings_read'] ?? 0), $requests)),
    $run['threads']));
echo "settings read: ", $reads === THREADS * REQUESTS ? 'once per request' : "$reads times in " . THREADS * REQUESTS . " requests", "\n";

// 3. An account per thread, each under a key of its own (weixin.cache_key
// per thread): each gets its own token, stored under its own key.
$appids = [];
$keys = [];
for ($i = 0; $i < THREADS; $i++) {
    $appids[$i] = test_appid("ztsown$i");
    reset_account($appids[$i], ['delay_ms' => 100]);
    $keys[$i] = "zts{$i}_{appid}";
}
$run = zts_run($harness, THREADS, REQUESTS, $env + ['ZTS_APPIDS' => implode(',', $appids)], [],
    ['weixin.cache_key' => $keys, 'weixin.local_cache_ttl' => ['0', '60']]);
check_run('an account and a key per thread', $run);
$calls = $oneToken = $ownKey = 0;
$all = [];
foreach ($appids as $i => $appid) {
    $tokens = zts_tokens($run, $appid);
    $token = (string) array_key_first($tokens);
    $all[$token] = true;
    $calls += stats($appid)['token_calls'];
    $oneToken += count($tokens) === 1 && array_sum($tokens) === REQUESTS * CONSTRUCTIONS ? 1 : 0;
    $ownKey += memcached_value("zts{$i}_$appid") === $token && token_is_current($token) ? 1 : 0;
}
echo "accounts with one token, served to all of their thread's constructions: $oneToken\n";
echo 'distinct tokens: ', count($all), "\n";
echo "upstream calls: $calls\n";
echo "threads whose own key holds their current token: $ownKey\n";

// 4. The same accounts, shared: every thread constructs all of them in
// turn, with the INI values of 2 (and the default key).
foreach ($appids as $appid) {
    reset_account($appid, ['delay_ms' => 100]);
}
$run = zts_run($harness, THREADS, REQUESTS, ['ZTS_SPREAD' => 'all', 'ZTS_APPIDS' => implode(',', $appids)] + $env,
    ['weixin.cache_key' => 'zts_all_{appid}'], $threadIni);
check_run('every thread uses every account', $run);
$calls = $oneToken = 0;
foreach ($appids as $appid) {
    $tokens = zts_tokens($run, $appid);
    $calls += stats($appid)['token_calls'];
    $oneToken += count($tokens) === 1 && array_sum($tokens) === THREADS * REQUESTS * CONSTRUCTIONS / count($appids)
        && memcached_value("zts_all_$appid") === array_key_first($tokens) ? 1 : 0;
}
echo "accounts with one token, served everywhere and held by memcached: $oneToken\n";
echo "upstream calls: $calls\n";

// 5. memcached unreachable (a port nobody listens on): every request of
// every thread raises its own one warning naming memcached, whatever the
// other threads' requests do at the same moment (the flag is per thread,
// reset at each request's start), and all threads share one stable token.
$probe = stream_socket_server('tcp://127.0.0.1:0');
$deadPort = (int) substr(strrchr(stream_socket_get_name($probe, false), ':'), 1);
fclose($probe);
$appid = test_appid('ztswarn');
reset_account($appid, ['delay_ms' => 100]);
$run = zts_run($harness, THREADS, REQUESTS, $env + ['ZTS_APPIDS' => $appid],
    ['weixin.memcache_servers' => "127.0.0.1:$deadPort", 'weixin.use_stable_token' => '1', 'display_errors' => '1',
     'html_errors' => '0']);
echo "-- memcached unreachable\n";
echo "exit status: {$run['status']}\n";
echo $run['summary'], "\n";
$warnings = [];
foreach ($run['threads'] as $requests) {
    foreach ($requests as $request) {
        $lines = array_filter($request['other'] ?? [], fn ($l) => str_contains($l, 'Warning') && str_contains($l, 'memcached'));
        $warnings[count($lines)] = ($warnings[count($lines)] ?? 0) + 1;
    }
}
ksort($warnings);
echo 'requests by number of memcached warnings: ', json_encode($warnings), "\n";
echo 'distinct tokens: ', count(zts_tokens($run, $appid)), ", errors: ", count(array_filter(zts_trouble($run, 1000),
    fn ($l) => !str_contains($l, 'Warning'))), "\n";

zts_remove_harness($harness);
?>
--EXPECT--
-- one account, the same INI values in every thread
exit status: 0
harness: 8 threads x 25 requests: 200 ran, 0 failed
errors, warnings, leak reports, assertions: none
distinct tokens: 1
constructions served: 8000
threads that served it in each request (40 times): 8
upstream calls: 1 (stable 0)
concurrent upstream requests at most: 1
the token is current: yes
memcached holds it: yes
-- one account, other INI values in each thread
exit status: 0
harness: 8 threads x 25 requests: 200 ran, 0 failed
errors, warnings, leak reports, assertions: none
distinct tokens: 1
constructions served: 8000
threads that served it in each request (40 times): 8
upstream calls: 1 (stable 0)
concurrent upstream requests at most: 1
the token is current: yes
memcached holds it: yes
threads that saw their own values in each request: 8
settings read: once per request
-- an account and a key per thread
exit status: 0
harness: 8 threads x 25 requests: 200 ran, 0 failed
errors, warnings, leak reports, assertions: none
accounts with one token, served to all of their thread's constructions: 8
distinct tokens: 8
upstream calls: 8
threads whose own key holds their current token: 8
-- every thread uses every account
exit status: 0
harness: 8 threads x 25 requests: 200 ran, 0 failed
errors, warnings, leak reports, assertions: none
accounts with one token, served everywhere and held by memcached: 8
upstream calls: 8
-- memcached unreachable
exit status: 0
harness: 8 threads x 25 requests: 200 ran, 0 failed
requests by number of memcached warnings: {"1":200}
distinct tokens: 1, errors: 0
