--TEST--
weixin.use_stable_token=1: POST /cgi-bin/stable_token, its own keys, no forcing except refresh_access_token() on an unchanged token
--INI--
weixin.cache_key=st_{appid}
weixin.use_stable_token=1
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('stable');
reset_account($appid);
$memcache = legacy_memcache();

$w = new class_weixin($appid, TEST_SECRET);
$s = stats($appid);
echo "stable calls: {$s['stable_calls']}, plain calls: {$s['token_calls']}, forced: {$s['force_refresh_calls']}\n";
echo "stored under its own key: ", $memcache->get("st_$appid:stable") === $w->access_token ? 'yes' : 'no', "\n";
echo "plain key untouched: ", var_export($memcache->get("st_$appid"), true), "\n";
new class_weixin($appid, TEST_SECRET);
echo "second construction calls: ", stats($appid)['stable_calls'], "\n";

// A plain-token server on the same account and key setting: separate keys, both tokens live.
ini_set('weixin.use_stable_token', '0');
$plain = new class_weixin($appid, TEST_SECRET);
echo "plain token differs: ", $plain->access_token !== $w->access_token ? 'yes' : 'no', "\n";
echo "both current: ", token_is_current($plain->access_token) && token_is_current($w->access_token) ? 'yes' : 'no', "\n";
ini_set('weixin.use_stable_token', '1');

// The API refused it: the same token comes back unforced, so it is forced, once.
$old = $w->access_token;
$new = $w->refresh_access_token();
$s = stats($appid);
echo "forced: {$s['force_refresh_calls']}, new token: ", $new !== $old && token_is_current($new) ? 'yes' : 'no', "\n";

// Short lifetimes (expires_in can be 300 for stable tokens) follow the same clamping.
$appid = test_appid('stable');
reset_account($appid, ['expires_in' => 300]);
new class_weixin($appid, TEST_SECRET);
$meta = token_meta("st_$appid:stable");
echo "expires_in 300: due after ", round($meta['refresh_at'] - $meta['fetched_at']), " s, kept ", memcached_ttl("st_$appid:stable") <= 271 ? '<= 271' : 'too long', " s\n";
?>
--EXPECT--
stable calls: 1, plain calls: 0, forced: 0
stored under its own key: yes
plain key untouched: false
second construction calls: 1
plain token differs: yes
both current: yes
forced: 1, new token: yes
expires_in 300: due after 150 s, kept <= 271 s
