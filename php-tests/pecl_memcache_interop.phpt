--TEST--
PECL memcache interop both ways: a token cached by legacy code is used (also over one of ours) and replaced ahead of its expiry, deleting the key forces a new one, and legacy code reads ours
--SKIPIF--
<?php if (!class_exists('Memcache')) die('skip PECL memcache not installed (interop only)'); ?>
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

// Mid-migration, a legacy server fetched a token of its own (invalidating
// ours) and cached it: the extension serves the legacy server's token, not
// the one its own record still describes. Deleting the key, as legacy
// runbooks do to force a new token, forces one.
ini_set('weixin.local_cache_ttl', '0');
$appid = test_appid('replaced');
reset_account($appid);
$ours = (new class_weixin($appid, TEST_SECRET))->access_token;
$theirs = standin('/cgi-bin/token', ['grant_type' => 'client_credential', 'appid' => $appid, 'secret' => TEST_SECRET])['access_token'];
$memcache->set("interop_$appid", $theirs, 0, 7200);
var_dump((new class_weixin($appid, TEST_SECRET))->access_token === $theirs, token_is_current($ours));
$memcache->delete("interop_$appid");
$new = (new class_weixin($appid, TEST_SECRET))->access_token;
var_dump($new !== $theirs && token_is_current($new), $memcache->get("interop_$appid") === $new);
ini_restore('weixin.local_cache_ttl');

// A token legacy code cached for its lifetime is replaced ahead of its
// expiry like ours, so legacy servers never find the key missing (and never
// all fetch at once).
ini_set('weixin.refresh_margin', '3');
$appid = test_appid('ahead');
reset_account($appid);
$memcache->set("interop_$appid", 'LEGACY_TOKEN_ahead', 0, 6);
$before = (new class_weixin($appid, TEST_SECRET))->access_token;
usleep(3000000); // due after 6 - 3 s, less memcached's coarse second
// The construction that finds it due serves it and has it replaced by a
// thread: the next ones get the replacement.
$after = wait_for(fn () => ($t = (new class_weixin($appid, TEST_SECRET))->access_token) !== 'LEGACY_TOKEN_ahead' ? $t : null);
var_dump($before, token_is_current($after), $memcache->get("interop_$appid") === $after, stats($appid)['token_calls']);
ini_restore('weixin.refresh_margin');

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
bool(false)
bool(true)
bool(true)
string(18) "LEGACY_TOKEN_ahead"
bool(true)
bool(true)
int(1)
bool(true)
bool(true)
bool(true)
bool(true)
string(19) "SHARED_LEGACY_TOKEN"
