--TEST--
A blackholed memcached (accepts, never answers) does not stall requests: short timeout, then skipped for a moment; tokens still served
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--INI--
weixin.cache_key=hole_{appid}
weixin.local_cache_ttl=0
weixin.memcache_timeout=0.2
--FILE--
<?php
require __DIR__ . '/helpers.inc';
// Listens, but never accepts or answers: connections hang like a blackhole's.
$hole = stream_socket_server('tcp://127.0.0.1:0');
$address = stream_socket_get_name($hole, false);
ini_set('weixin.memcache_servers', $address);
$appid = test_appid('hole');
reset_account($appid);
$warnings = 0;
set_error_handler(function () use (&$warnings) { $warnings++; return true; });

$slowest = 0;
$start = microtime(true);
for ($i = 0; $i < 100; $i++) {
    $t = microtime(true);
    $w = new class_weixin($appid, TEST_SECRET);
    $slowest = max($slowest, microtime(true) - $t);
}
$total = microtime(true) - $start;
echo "100 constructions in under 1.5 s: ", $total < 1.5 ? 'yes' : "no ($total s)", "\n";
echo "slowest under 0.6 s: ", $slowest < 0.6 ? 'yes' : "no ($slowest s)", "\n";
echo "token current: ", token_is_current($w->access_token) ? 'yes' : 'no', "\n";
// Without memcached the one upstream call asks for the stable token: the
// one every process gets alike, invalidating nothing.
$s = stats($appid);
echo "upstream calls: plain {$s['token_calls']}, stable {$s['stable_calls']}, warnings: $warnings\n";
?>
--EXPECT--
100 constructions in under 1.5 s: yes
slowest under 0.6 s: yes
token current: yes
upstream calls: plain 0, stable 1, warnings: 1
