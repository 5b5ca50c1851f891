--TEST--
PECL memcache interop both ways: a token cached by legacy code is used as is, and legacy code reads ours
--INI--
weixin.cache_key=interop_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$memcache = legacy_memcache();

// Legacy PHP code cached a token (exactly as the legacy class does).
$appid = test_appid('legacy');
reset_account($appid);
$memcache->set("interop_$appid", 'LEGACY_TOKEN_abc123', 0, 7200);
$w = new class_weixin($appid, TEST_SECRET);
var_dump($w->access_token, stats($appid)['token_calls']);

// The extension caches a token: legacy code reads the same plain string.
$appid = test_appid('ext');
reset_account($appid);
$w = new class_weixin($appid, TEST_SECRET);
var_dump($memcache->get("interop_$appid") === $w->access_token);

// The legacy class cached an empty token after a failed fetch: that is a miss,
// and the extension replaces it with a good one.
$appid = test_appid('poison');
reset_account($appid);
$memcache->set("interop_$appid", '', 0, 7200);
$w = new class_weixin($appid, TEST_SECRET);
var_dump(token_is_current($w->access_token), $memcache->get("interop_$appid") === $w->access_token);

// A serialized PHP value (PECL flags not 0) is not a token either.
$appid = test_appid('serial');
reset_account($appid);
$memcache->set("interop_$appid", ['not', 'a', 'token'], 0, 7200);
$w = new class_weixin($appid, TEST_SECRET);
var_dump(token_is_current($w->access_token), $memcache->get("interop_$appid") === $w->access_token);

// The legacy default key is shared as is: old and new servers find one token.
ini_set('weixin.cache_key', 'access_token');
$appid = test_appid('shared');
reset_account($appid);
$memcache->set('access_token', 'SHARED_LEGACY_TOKEN', 0, 7200);
var_dump((new class_weixin($appid, TEST_SECRET))->access_token);
$memcache->delete('access_token');
?>
--EXPECT--
string(19) "LEGACY_TOKEN_abc123"
int(0)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
string(19) "SHARED_LEGACY_TOKEN"
