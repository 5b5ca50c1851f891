--TEST--
memcached stopped and restarted mid-run: tokens still served, one warning per request, no extra upstream call, reconnection afterwards
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
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
$start = microtime(true);
for ($i = 0; $i < 50; $i++) {
    if ((new class_weixin($appid, TEST_SECRET))->access_token === $token) $same++;
}
echo "while down: $same of 50 served the token, in ", microtime(true) - $start < 1.0 ? 'under a second' : 'too long', "\n";
echo "warnings this request: ", count($warnings), "\n";
echo str_replace((string) $port, 'PORT', $warnings[0] ?? ''), "\n";

// Another process (a fresh request) while memcached is down: its own single fetch.
$others = run_parallel(3, 'for ($i = 0; $i < 20; $i++) $t = (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token; echo $t;',
    ['weixin.cache_key' => 'restart_{appid}', 'weixin.local_cache_ttl' => '0', 'weixin.memcache_servers' => "127.0.0.1:$port"],
    ['APPID' => $appid]);
foreach ($others as $r) {
    echo "other process: ", $r['out'] !== '' ? 'token' : 'none', ", warnings: ", substr_count($r['err'] . $r['out'], 'Warning'), "\n";
}
echo "upstream calls so far: ", stats($appid)['token_calls'], "\n";

// Back on the same port (empty): this process reconnects. The token it held
// may have been invalidated meanwhile (the others fetched), so a new one is
// fetched and shared.
[$memcached] = start_memcached($port);
usleep(2100000); // a failed server is retried after 2 s
$w = new class_weixin($appid, TEST_SECRET);
$check = new Memcache();
@$check->connect('127.0.0.1', $port);
echo "after restart: served ", token_is_current($w->access_token) ? 'a current token' : 'a dead token', ", memcached holds it: ", $check->get("restart_$appid") === $w->access_token ? 'yes' : 'no', "\n";

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
while down: 50 of 50 served the token, in under a second
warnings this request: 1
class_weixin::__construct(): memcached at 127.0.0.1:PORT failed: %s (check weixin.memcache_servers and weixin.memcache_timeout)
other process: token, warnings: 1
other process: token, warnings: 1
other process: token, warnings: 1
upstream calls so far: 4
after restart: served a current token, memcached holds it: yes
after a quick restart: warnings 0, token current: yes, shared again: yes
