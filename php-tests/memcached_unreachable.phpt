--TEST--
memcached unreachable: no die(), a warning naming the server, and the token is still served
--INI--
weixin.cache_key=down_{appid}
weixin.memcache_servers=127.0.0.1:1
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('down');
reset_account($appid);
$w = new class_weixin($appid, TEST_SECRET);
var_dump(token_is_current($w->access_token));
echo "still running\n";
?>
--EXPECTF--
Warning: class_weixin::__construct(): memcached at 127.0.0.1:1 failed: %s (check weixin.memcache_servers and weixin.memcache_timeout) in %s on line %d
bool(true)
still running
