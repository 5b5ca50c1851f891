--TEST--
Quota visibility: every request to WeChat adds one to memcached's counter for the AppID, Beijing day and endpoint (/cgi-bin/token, /cgi-bin/stable_token, tickets apart), whatever the cache key; php --ri weixin shows each; one E_WARNING per process when the /cgi-bin/token count passes weixin.daily_quota_warning, never for stable tokens or tickets; without memcached (down or full) nothing is counted and nothing fails
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind'); ?>
--INI--
weixin.cache_key=quota_{appid}_0
--FILE--
<?php
require __DIR__ . '/helpers.inc';

/** The Beijing date (YYYYMMDD) $days from now. */
function beijing_date(int $days = 0): string
{
    return gmdate('Ymd', time() + 8 * 3600 + $days * 86400);
}

/**
 * The counter memcached holds for $appid on $day, read with a raw command (0:
 * none): /cgi-bin/token's (weixin_requests), or another ($prefix).
 */
function counter(string $appid, string $day, string $prefix = 'weixin_requests'): int
{
    $reply = memcached_command("mg $prefix:$appid:$day v f t");
    if (trim($reply) === 'EN') {
        return 0;
    }
    if (!preg_match('/^VA \d+ f0 t(\d+)\r\n(\d+)\r\n$/', $reply, $m)) {
        throw new RuntimeException("not a counter: $reply");
    }
    if ((int) $m[1] > 172800 || (int) $m[1] < 172800 - 600) {
        throw new RuntimeException("not kept 2 days: $reply");
    }
    return (int) $m[2];
}

/** $appid's requests counted in memcached (yesterday's too, should the test cross Beijing midnight). */
function counted(string $appid, string $prefix = 'weixin_requests'): int
{
    return counter($appid, beijing_date(-1), $prefix) + counter($appid, beijing_date(), $prefix);
}

/** /cgi-bin/token requests the stand-in received for $appid (stable ones are counted apart). */
function requests_seen(string $appid): int
{
    return stats($appid)['token_calls'];
}

/**
 * What PHP with the extension, $ini and $env writes running $arguments. (Not
 * run_parallel(): its children wait for a start time on the wall clock,
 * which libfaketime moves.)
 */
function php_output(array $arguments, array $ini, array $env = []): string
{
    $process = proc_open([...php_command($ini), ...$arguments], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes,
        null, $env + getenv());
    $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
    proc_close($process);
    return $out;
}

/** The row "$what today (all servers)" of `php --ri weixin` run with $ini (and $env). */
function ri_row(array $ini, array $env = [], string $what = 'token requests'): string
{
    $out = php_output(['--ri', 'weixin'], $ini, $env);
    return preg_match('/^' . preg_quote($what, '/') . ' today \(all servers\) => (.*)$/m', $out, $m)
        ? without_retry_words($m[1]) : "no row '$what' in:\n$out";
}

/** What a child wrote to stderr, one line each, the AppID and port numbers replaced. */
function messages(array $result, string $appid): array
{
    $lines = array_filter(explode("\n", trim(without_retry_words($result['err']))), 'strlen');
    return array_map(fn ($l) => preg_replace('/127\.0\.0\.1:\d+/', 'HOST:PORT', str_replace($appid, 'APPID', $l)), $lines);
}

$appid = test_appid('quota');
reset_account($appid);

echo "-- 9 cold processes, 3 cache keys (one token request each):\n";
$results = run_parallel(9, '
    ini_set("weixin.cache_key", "quota_{appid}_" . ($argv[1] % 3));
    echo (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;',
    [], ['APPID' => $appid]);
$failed = count(array_filter($results, fn ($r) => $r['status'] !== 0 || $r['err'] !== '' || $r['out'] === ''));
echo "failed: $failed, requests WeChat saw: ", requests_seen($appid), ", counted in memcached: ", counted($appid), "\n";

echo "-- this process: a token from memcached, then a forced refresh:\n";
$w = new class_weixin($appid, TEST_SECRET);
[$seen, $count] = [requests_seen($appid), counted($appid)];
echo "construction from memcached: requests ", requests_seen($appid) - $seen, ", counted ", counted($appid) - $count, "\n";
$w->refresh_access_token();
echo "refresh_access_token(): requests ", requests_seen($appid) - $seen, ", counted ", counted($appid) - $count, "\n";

echo "-- php --ri weixin:\n";
$row = ri_row(['weixin.appid' => $appid]);
preg_match('/^(\d+) \(AppID \S+, (\d{4})-(\d\d)-(\d\d) Beijing/', $row, $m);
echo str_replace([$appid, isset($m[2]) ? "$m[2]-$m[3]-$m[4]" : 'DATE'], ['APPID', 'DATE'], $row), "\n";
echo "the count memcached holds for that day: ", isset($m[1]) && (int) $m[1] === counter($appid, "$m[2]$m[3]$m[4]") ? 'yes' : 'no', "\n";
echo "the date is Beijing's: ", isset($m[2]) && in_array("$m[2]$m[3]$m[4]", [beijing_date(-1), beijing_date()], true) ? 'yes' : 'no', "\n";
echo "no weixin.appid: ", ri_row([]), "\n";
echo "memcached unreachable: ", ri_row(['weixin.appid' => $appid, 'weixin.memcache_servers' => '127.0.0.1:1']), "\n";
echo "its stable token row: ", ri_row(['weixin.appid' => $appid, 'weixin.memcache_servers' => '127.0.0.1:1'], [],
    'stable token requests'), "\n";

// Machines whose wall clock says 2026-11-24 UTC, a minute before and just
// after 16:00 (midnight in Beijing), through libfaketime (preloaded with the
// extension, see skewed_env()).
$at = fn (string $utc) => ['LD_PRELOAD' => faketime_library() . ' ' . getenv('WEIXIN_TEST_EXT'),
    'FAKETIME' => "@2026-11-24 $utc", 'FAKETIME_DONT_FAKE_MONOTONIC' => '1', 'TZ' => 'UTC'];
$late = test_appid('quotalate');
reset_account($late);
$token = php_output(['-r', 'echo (new class_weixin(getenv("APPID"), getenv("SECRET")))->access_token;'], [],
    ['APPID' => $late, 'SECRET' => TEST_SECRET] + $at('16:00:00'));
echo "-- a token request at 2026-11-24 16:00:00 UTC: ", token_verdict($token), ", counted under 20261124: ", counter($late, '20261124'),
    ", under 20261125: ", counter($late, '20261125'), "\n";
foreach (['15:59:00', '16:00:00'] as $utc) {
    echo "php --ri weixin at $utc UTC: ", str_replace($late, 'APPID', ri_row(['weixin.appid' => $late], $at($utc))), "\n";
}

// A child that reports its token bad $n times (each a token request), noting
// after each how many warnings it has seen; then prints them.
$refreshes = function (int $threshold, int $n) use ($appid): array {
    $code = '
        $warnings = [];
        set_error_handler(function ($no, $message) use (&$warnings) {
            $warnings[] = ($no === E_WARNING ? "E_WARNING: " : "$no: ") . $message;
            return true;
        });
        $w = new class_weixin(getenv("APPID"), TEST_SECRET);
        $after = [];
        for ($i = 0; $i < ' . $n . '; $i++) {
            $w->refresh_access_token();
            $after[] = count($warnings);
        }
        echo implode(",", $after), "\n", implode("\n", $warnings);';
    [$result] = run_parallel(1, $code, ['weixin.cache_key' => 'quota_{appid}_0',
        'weixin.daily_quota_warning' => (string) $threshold], ['APPID' => $appid]);
    return $result;
};

echo "-- weixin.daily_quota_warning 2 above the count, 5 requests:\n";
[$seen, $count] = [requests_seen($appid), counted($appid)];
$threshold = $count + 2;
$result = $refreshes($threshold, 5);
echo "requests ", requests_seen($appid) - $seen, ", counted ", counted($appid) - $count, ", exit ", $result['status'], ", stderr: '", $result['err'], "'\n";
echo "warnings seen after each request: ", str_replace(
    [$appid, ($threshold + 1) . ' token requests', "=$threshold:"], ['APPID', 'COUNT token requests', '=THRESHOLD:'], $result['out']), "\n";

echo "-- weixin.daily_quota_warning=0, 3 requests (far past the count):\n";
[$seen, $count] = [requests_seen($appid), counted($appid)];
$result = $refreshes(0, 3);
echo "requests ", requests_seen($appid) - $seen, ", counted ", counted($appid) - $count, ", exit ", $result['status'], ", stderr: '", $result['err'], "'\n";
echo "warnings seen after each request: ", rtrim($result['out']), "\n";

// weixin.use_stable_token=1: POST /cgi-bin/stable_token, isolated from
// /cgi-bin/token by WeChat, is counted apart and never raises the warning,
// which concerns /cgi-bin/token's 2,000 a day. 3 cold processes (one stable
// request for them all), then a child that reports its token bad 3 times
// (each: asked without forcing, the same token back, forced: 2 requests)
// and gets a JS-SDK ticket (counted apart too).
echo "-- weixin.use_stable_token=1, weixin.daily_quota_warning=1:\n";
$stable = test_appid('quotastable');
reset_account($stable);
$stable_ini = ['weixin.use_stable_token' => '1', 'weixin.daily_quota_warning' => '1',
    'weixin.cache_key' => 'quota_{appid}_0'];
$results = run_parallel(3, 'echo token_verdict((new class_weixin(getenv("APPID"), TEST_SECRET))->access_token);',
    $stable_ini, ['APPID' => $stable]);
echo "cold processes: ", implode(', ', array_map(fn ($r) => "{$r['out']}, exit {$r['status']}, stderr '{$r['err']}'", $results)), "\n";
$warned = '
    $warnings = [];
    set_error_handler(function ($no, $message) use (&$warnings) {
        $warnings[] = ($no === E_WARNING ? "E_WARNING: " : "$no: ") . $message;
        return true;
    });';
[$result] = run_parallel(1, $warned . '
    $w = new class_weixin(getenv("APPID"), TEST_SECRET);
    for ($i = 0; $i < 3; $i++) {
        $w->refresh_access_token();
    }
    echo token_verdict($w->access_token), ", a ticket: ", $w->get_jsapi_ticket() !== "" ? "yes" : "no",
        ", warnings: ", count($warnings), "\n", implode("\n", $warnings);', $stable_ini, ['APPID' => $stable]);
echo "the refreshing child: exit {$result['status']}, stderr '{$result['err']}', ", rtrim($result['out']), "\n";
$s = stats($stable);
echo "WeChat saw: stable ", $s['stable_calls'], " (forced ", $s['force_refresh_calls'], "), plain ", $s['token_calls'],
    ", tickets ", array_sum($s['ticket_calls']), "\n";
echo "counted: plain ", counted($stable), ", stable ", counted($stable, 'weixin_stable_requests'),
    ", tickets ", counted($stable, 'weixin_ticket_requests'), "\n";
foreach (['token requests', 'stable token requests', 'ticket requests'] as $what) {
    $row = ri_row(['weixin.appid' => $stable], [], $what);
    echo "php --ri weixin, $what today: ",
        preg_replace('/\d{4}-\d\d-\d\d Beijing/', 'DATE Beijing', str_replace($stable, 'APPID', $row)), "\n";
}
// The same AppID's /cgi-bin/token requests: the threshold is measured
// against them alone (one, then two).
[$result] = run_parallel(1, $warned . '
    $w = new class_weixin(getenv("APPID"), TEST_SECRET);
    $after = [count($warnings)];
    $w->refresh_access_token();
    $after[] = count($warnings);
    echo implode(",", $after), "\n", implode("\n", $warnings);',
    ['weixin.daily_quota_warning' => '1', 'weixin.cache_key' => 'quota_{appid}_0'], ['APPID' => $stable]);
echo "then 2 plain token requests: plain requests ", stats($stable)['token_calls'], ", counted ", counted($stable),
    ", stderr '", $result['err'], "', warnings seen after each: ", str_replace($stable, 'APPID', $result['out']), "\n";

// Each child gets a token, then reports it bad: two stable token requests
// without memcached, neither counted, each memcached failure warned once per
// request (the token rules' warning), nothing else.
echo "-- memcached unreachable, then full (weixin.daily_quota_warning=1):\n";
[$full, $port] = fleet_start_memcached(['-m', '1', '-M', '-n', '500', '-f', '2', '-I', '2k', '-o', memcached_slab_chunk_max(2)]);
fleet_fill_memcached($port, [400, 1500, 400, 1500]);
foreach (['unreachable' => '127.0.0.1:1', 'full' => "127.0.0.1:$port"] as $what => $servers) {
    $other = test_appid("quota$what");
    reset_account($other);
    [$result] = run_parallel(1, '
        $w = new class_weixin(getenv("APPID"), TEST_SECRET);
        echo token_verdict($w->access_token), " ", token_verdict($w->refresh_access_token());',
        ['weixin.memcache_servers' => $servers, 'weixin.daily_quota_warning' => '1',
            'weixin.cache_key' => 'quota_{appid}_0'], ['APPID' => $other]);
    $s = stats($other);
    echo "$what: exit {$result['status']}, tokens: {$result['out']}, stable token requests: {$s['stable_calls']}, ",
        "plain: {$s['token_calls']}", $what === 'full' ? ', counted: ' . (fleet_get($port, "weixin_requests:$other:" . beijing_date()) ?? 'nothing')
        . ', stable: ' . (fleet_get($port, "weixin_stable_requests:$other:" . beijing_date()) ?? 'nothing') : '', "\n";
    foreach (messages($result, $other) as $line) {
        echo "  $line\n";
    }
}
stop_memcached($full);
echo "the first AppID's counter still equals the requests WeChat saw: ", counted($appid) === requests_seen($appid) ? 'yes' : 'no', "\n";
?>
--EXPECTF--
-- 9 cold processes, 3 cache keys (one token request each):
failed: 0, requests WeChat saw: 3, counted in memcached: 3
-- this process: a token from memcached, then a forced refresh:
construction from memcached: requests 0, counted 0
refresh_access_token(): requests 1, counted 1
-- php --ri weixin:
4 (AppID APPID, DATE Beijing time; WeChat allows 2000 a day)
the count memcached holds for that day: yes
the date is Beijing's: yes
no weixin.appid: unknown: no weixin.appid configured
memcached unreachable: unknown: memcached at 127.0.0.1:1 failed: %s (check weixin.memcache_servers and weixin.memcache_timeout)
its stable token row: unknown: memcached at 127.0.0.1:1 %s
-- a token request at 2026-11-24 16:00:00 UTC: ok, counted under 20261124: 0, under 20261125: 1
php --ri weixin at 15:59:00 UTC: 0 (AppID APPID, 2026-11-24 Beijing time; WeChat allows 2000 a day)
php --ri weixin at 16:00:00 UTC: 1 (AppID APPID, 2026-11-25 Beijing time; WeChat allows 2000 a day)
-- weixin.daily_quota_warning 2 above the count, 5 requests:
requests 5, counted 5, exit 0, stderr: ''
warnings seen after each request: 0,0,1,1,1
E_WARNING: class_weixin::refresh_access_token(): COUNT token requests (GET /cgi-bin/token) to WeChat today (Beijing time) for AppID APPID, counted by every server sharing memcached, past weixin.daily_quota_warning=THRESHOLD: WeChat allows 2000 a day and refuses more (errcode 45009) until midnight Beijing time; find what requests tokens this often (warned once per process)
-- weixin.daily_quota_warning=0, 3 requests (far past the count):
requests 3, counted 3, exit 0, stderr: ''
warnings seen after each request: 0,0,0
-- weixin.use_stable_token=1, weixin.daily_quota_warning=1:
cold processes: ok, exit 0, stderr '', ok, exit 0, stderr '', ok, exit 0, stderr ''
the refreshing child: exit 0, stderr '', ok, a ticket: yes, warnings: 0
WeChat saw: stable 7 (forced 3), plain 0, tickets 1
counted: plain 0, stable 7, tickets 1
php --ri weixin, token requests today: 0 (AppID APPID, DATE Beijing time; WeChat allows 2000 a day)
php --ri weixin, stable token requests today: 7 (AppID APPID, DATE Beijing time; WeChat allows 10000 a minute and 500000 a day)
php --ri weixin, ticket requests today: 1 (AppID APPID, DATE Beijing time)
then 2 plain token requests: plain requests 2, counted 2, stderr '', warnings seen after each: 0,1
E_WARNING: class_weixin::refresh_access_token(): 2 token requests (GET /cgi-bin/token) to WeChat today (Beijing time) for AppID APPID, counted by every server sharing memcached, past weixin.daily_quota_warning=1: WeChat allows 2000 a day and refuses more (errcode 45009) until midnight Beijing time; find what requests tokens this often (warned once per process)
-- memcached unreachable, then full (weixin.daily_quota_warning=1):
unreachable: exit 0, tokens: ok ok, stable token requests: 2, plain: 0
  Warning: class_weixin::__construct(): memcached at HOST:PORT failed: %s (check weixin.memcache_servers and weixin.memcache_timeout) in %s on line %d
full: exit 0, tokens: ok ok, stable token requests: 2, plain: 0, counted: nothing, stable: nothing
  Warning: class_weixin::__construct(): memcached at HOST:PORT answered SERVER_ERROR %s (it is up but stores nothing: check its memory limit, memcached -m) in %s on line %d
the first AppID's counter still equals the requests WeChat saw: yes
