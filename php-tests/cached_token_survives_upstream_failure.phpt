--TEST--
A good cached token is served while WeChat fails, and a failure never overwrites it
--INI--
weixin.cache_key=keep_{appid}
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('keep');
reset_account($appid);
$first = new class_weixin($appid, TEST_SECRET);

// WeChat now answers every token request with an error.
standin('/__admin/configure', ['appid' => $appid, 'errcode' => -1, 'errmsg' => 'system error']);
for ($i = 0; $i < 5; $i++) {
    $w = new class_weixin($appid, TEST_SECRET);
    if ($w->access_token !== $first->access_token) echo "different token!\n";
}
echo "served the cached token 5 times, upstream calls: ", stats($appid)['token_calls'], "\n";

// Once the cache entry is gone, a server that holds nothing sees the
// failure, and still nothing is written.
forget_token("keep_$appid");
[$other] = run_parallel(1, 'try { new class_weixin(getenv("APPID"), TEST_SECRET); } catch (WeixinException $e) { echo "code ", $e->getCode(), "\n"; }',
    ['weixin.cache_key' => 'keep_{appid}'], ['APPID' => $appid]);
echo $other['out'];
var_dump(legacy_memcache()->get("keep_$appid"));
?>
--EXPECT--
served the cached token 5 times, upstream calls: 1
code -1
bool(false)
