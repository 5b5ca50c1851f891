--TEST--
memcached stopped and restarted mid-run: tokens still served, one warning per request, at most one upstream call per process, reconnection afterwards: every process agrees on one current token
--SKIPIF--
<?php
if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind');
if (!class_exists('Memcache')) die('skip PECL memcache not installed (interop only)');
?>
--INI--
weixin.cache_key=restart_{appid}
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
[$memcached, $port] = start_memcached();
ini_set('weixin.memcache_servers', "127.0.0.1:$port");
$appid = test_appid('restart');
reset_account($appid);
$warnings = [];
set_error_handler(function ($no, $message) use (&$warnings) { $warnings[] = $message; return true; });

$token = (new class_weixin($appid, TEST_SECRET))->access_token;
stop_memcached($memcached);
$same = 0;
for ($i = 0; $i < 50; $i++) {
    if ((new class_weixin($appid, TEST_SECRET))->access_token === $token) $same++;
}
echo "while down: $same of 50 served the token, upstream calls: ", stats($appid)['token_calls'], "\n";
echo "warnings this request: ", count($warnings), "\n";
echo str_replace((string) $port, 'PORT', $warnings[0] ?? ''), "\n";

// Other processes (fresh requests) while memcached is down: one of them
// fetches, and each serves that token for all its lookups.
$settings = ['weixin.cache_key' => 'restart_{appid}', 'weixin.local_cache_ttl' => '0', 'weixin.memcache_servers' => "127.0.0.1:$port"];
$others = run_parallel(3, '$t = []; for ($i = 0; $i < 20; $i++) $t[] = (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;
    echo count(array_unique($t)) === 1 ? "one token" : "tokens: " . count(array_unique($t));',
    $settings, ['APPID' => $appid]);
foreach ($others as $r) {
    echo "other process: ", $r['out'], ", warnings: ", substr_count($r['err'] . $r['out'], 'Warning'), "\n";
}
// One upstream call per machine per token lifetime: this one's plain token
// before the outage, and the stable token (the one every process gets alike:
// it invalidates nothing) that one of the three others asked for and shared
// with the other two through the machine's share.
$s = stats($appid);
$before = $s['token_calls'];
echo "upstream calls so far: plain $before, stable {$s['stable_calls']}, stable tokens issued {$s['stable_tokens_issued']}\n";

// Back on the same port (empty): this process retries the server (2 s after
// it failed) and reconnects. The token it held was invalidated meanwhile (the
// others fetched), and memcached lost the key: a new one is fetched and
// shared. Waited for: memcached holding the token this process serves.
[$memcached] = start_memcached($port);
$check = new Memcache();
@$check->connect('127.0.0.1', $port);
$deadline = time() + 15;
while (true) {
    $w = new class_weixin($appid, TEST_SECRET);
    $shared = $check->get("restart_$appid") === $w->access_token;
    if ($shared || time() >= $deadline) break;
    usleep(20000);
}
echo "after restart: served ", token_is_current($w->access_token) ? 'a current token' : 'a dead token', ", memcached holds it: ", $shared ? 'yes' : 'no', "\n";

// New processes now: all serve that token from memcached, without a warning
// or another upstream call.
$after = run_parallel(4, 'echo (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;', $settings, ['APPID' => $appid]);
$agree = count(array_filter($after, fn ($r) => $r['out'] === $w->access_token && $r['err'] === ''));
echo "after restart, new processes: $agree of 4 serve it with no warning; upstream calls since the restart: ",
    stats($appid)['token_calls'] - $before <= 1 ? 'at most one' : 'more', "\n";

// A quick restart between two lookups: the kept connection is dead, a fresh
// one is made at once, with no warning and no detour around memcached.
stop_memcached($memcached);
[$memcached] = start_memcached($port);
$warnings = [];
$w = new class_weixin($appid, TEST_SECRET);
restore_error_handler();
$fresh = new Memcache();
@$fresh->connect('127.0.0.1', $port);
echo "after a quick restart: warnings ", count($warnings), ", token current: ", token_is_current($w->access_token) ? 'yes' : 'no',
    ", shared again: ", $fresh->get("restart_$appid") === $w->access_token ? 'yes' : 'no', "\n";
stop_memcached($memcached);
?>
--EXPECTF--
while down: 50 of 50 served the token, upstream calls: 1
warnings this request: 1
class_weixin::__construct(): memcached at 127.0.0.1:PORT failed: %s (check weixin.memcache_servers and weixin.memcache_timeout)
other process: one token, warnings: 1
other process: one token, warnings: 1
other process: one token, warnings: 1
upstream calls so far: plain 1, stable 1, stable tokens issued 1
after restart: served a current token, memcached holds it: yes
after restart, new processes: 4 of 4 serve it with no warning; upstream calls since the restart: at most one
after a quick restart: warnings 0, token current: yes, shared again: yes
