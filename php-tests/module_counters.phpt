--TEST--
php --ri weixin counts this process's lookups: local cache hits, memcached hits, upstream calls and errors, lock waits
--INI--
weixin.cache_key=counters_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';

function counters(): array
{
    ob_start();
    phpinfo(INFO_MODULES);
    preg_match_all('/^(local cache hits|memcached hits|upstream calls|upstream errors|lock waits) => (\d+)$/m', ob_get_clean(), $m);
    return array_combine($m[1], array_map('intval', $m[2]));
}

$appid = test_appid('counters');
reset_account($appid);
new class_weixin($appid, TEST_SECRET);          // cold: one upstream call
new class_weixin($appid, TEST_SECRET);          // warm: a local cache hit
ini_set('weixin.local_cache_ttl', '0');
new class_weixin($appid, TEST_SECRET);          // from memcached
$failing = test_appid('counters');
reset_account($failing, ['errcode' => 40164, 'errmsg' => 'invalid ip']);
try { new class_weixin($failing, TEST_SECRET); } catch (WeixinException $e) {}
print_r(counters());
?>
--EXPECT--
Array
(
    [local cache hits] => 1
    [memcached hits] => 1
    [upstream calls] => 2
    [upstream errors] => 1
    [lock waits] => 0
)
