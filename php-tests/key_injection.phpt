--TEST--
A hostile AppID cannot inject memcached commands: keys are escaped, never passed raw
--INI--
weixin.cache_key=inj_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$memcache = legacy_memcache();
$memcache->delete('evil');
$hostile = "wx x 0 0 4\r\nset evil 0 0 4\r\nPWND\r\nget y";
$escaped = 'inj_' . preg_replace_callback('/[^\x21-\x7e]|%/', fn ($m) => sprintf('%%%02X', ord($m[0])), $hostile);
forget_token($escaped);

try {
    new class_weixin($hostile, TEST_SECRET);
} catch (WeixinException $e) {
    echo "rejected upstream: ", $e->getCode(), "\n";
}
var_dump($memcache->get('evil'));

// The escaped key is a real, distinct key: a token stored under it is found.
$memcache->set($escaped, 'TOKEN_FOR_ESCAPED_KEY', 0, 60);
var_dump((new class_weixin($hostile, TEST_SECRET))->access_token);
var_dump($memcache->get('evil'));

// Too long a key after escaping is a clear error, not a truncated key.
try {
    new class_weixin(str_repeat("\x01", 100), TEST_SECRET);
} catch (WeixinException $e) {
    echo $e->getMessage(), "\n";
}
?>
--EXPECT--
rejected upstream: 40013
bool(false)
string(21) "TOKEN_FOR_ESCAPED_KEY"
bool(false)
the memcached key is 304 bytes after escaping, over the 238 allowed: shorten weixin.cache_key
