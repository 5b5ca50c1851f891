--TEST--
The seed script runs unchanged once its class is deleted: constants, new class_weixin(), var_dump
--INI--
weixin.cache_key=access_token
--FILE--
<?php
require __DIR__ . '/helpers.inc';
reset_account('wx1111111111111111');
forget_token('access_token');

// The seed's own script, verbatim but for its class, which the extension provides.
define("APPID", "wx1111111111111111");
define("APPSECRET", "11111111111111111111111111111111");
$weixin = new class_weixin();
var_dump($weixin);

var_dump(token_is_current($weixin->access_token));
var_dump(legacy_memcache()->get('access_token') === $weixin->access_token);
var_dump(stats('wx1111111111111111')['token_calls']);
// A second object takes the cached token.
$again = new class_weixin();
var_dump($again->access_token === $weixin->access_token, stats('wx1111111111111111')['token_calls']);
?>
--EXPECTF--
object(class_weixin)#%d (3) {
  ["appid"]=>
  string(18) "wx1111111111111111"
  ["appsecret"]=>
  string(8) "********"
  ["access_token"]=>
  string(%d) "%s"
}
bool(true)
bool(true)
int(1)
bool(true)
int(1)
