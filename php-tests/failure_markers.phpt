--TEST--
A failure marker in the lock carries a fingerprint of the credentials and endpoint: only processes with the same one report it; others fetch with their own credentials once it lapses. refresh_access_token() never reports a refresh-ahead failure once WeChat has recovered. The same over classic commands (a memcached 1.4/1.5)
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--INI--
weixin.cache_key=marker_{appid}
weixin.refresh_margin=3
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
const WRONG_SECRET = 'abcdefghijklmnopqrstuvwxyz012345'; // well-formed, but not this account's

[$old_memcached, $old_port] = start_old_memcached(test_memcached_port());
foreach (['meta' => getenv('WEIXIN_TEST_MEMCACHED'), 'classic' => "127.0.0.1:$old_port"] as $protocol => $server) {
    echo "== $protocol\n";
    ini_set('weixin.memcache_servers', $server);

    // (a) A wrong AppSecret fails (a cold marker, 2 s); within those 2 s a second
    // process with the same wrong secret reports that failure without calling
    // WeChat, and a process with the right secret gets a token.
    $appid = test_appid('marker');
    $key = "marker_$appid";
    reset_account($appid, ['secret' => TEST_SECRET]);
    $ini = ['weixin.cache_key' => 'marker_{appid}', 'weixin.memcache_servers' => $server];
    $wrong = spawn_constructor($ini);
    $wrongToo = spawn_constructor($ini);
    $right = spawn_constructor($ini);

    $first = ask($wrong, "$appid " . WRONG_SECRET);
    // The marker lives 2 s; kept for 30 (its value, and the 2 s hold written in
    // it, unchanged) so that what follows does not race the clock on a loaded
    // machine: the right secret must not adopt it even while it lasts.
    $touched = memcached_command("mg $key:lock T30");
    $marker = get_raw("$key:lock");
    $second = ask($wrongToo, "$appid " . WRONG_SECRET);
    $callsAfterSecond = stats($appid)['token_calls'];
    $third = ask($right, "$appid " . TEST_SECRET);
    echo "wrong secret: code ", $first['code'] ?? 'none', "\n";
    echo "  marker: ", preg_match('/^wx2 fail cold \d+ [0-9a-fA-F]{16} \S+ 40125 /', (string) $marker) ? 'wx2 fail cold <hold> <fingerprint> <id> 40125 ...' : var_export($marker, true), "\n";
    echo "  marker holds no secret: ", !str_contains((string) $marker, WRONG_SECRET) && !str_contains((string) $marker, TEST_SECRET) ? 'yes' : 'no', "\n";
    echo "the same wrong secret again: code ", $second['code'] ?? 'none', ", upstream calls: ", $callsAfterSecond, "\n";
    echo "the right secret, the marker still there", str_starts_with($touched, 'HD') ? '' : ' (it was not)', ": ",
        isset($third['token']) ? (token_is_current($third['token']) ? 'a current token' : 'a token WeChat refuses')
            : "code {$third['code']}: {$third['message']}", "\n";
    echo "upstream calls: ", stats($appid)['token_calls'], "\n";
    foreach ([$wrong, $wrongToo, $right] as $child) {
        echo stop_child($child);
}
forget_token($key);
reset_account($appid);

// (b) A due token whose refresh fails is served on (an "ahead" marker spaces
// the retries); once WeChat recovers, refresh_access_token() gets a new token
// instead of reporting the stale failure.
$appid = test_appid('marker');
$key = "marker_$appid";
reset_account($appid, ['expires_in' => 6]); // due after 3 s, served until 5.4 s
$w = new class_weixin($appid, TEST_SECRET);
$old = $w->access_token;
standin('/__admin/configure', ['appid' => $appid, 'errcode' => -1]);
$problems = [];
$failedRefresh = wait_for(function () use ($appid, $old, &$problems) {
    try {
        $token = (new class_weixin($appid, TEST_SECRET))->access_token;
        if ($token !== $old) {
            $problems[] = 'another token';
        }
    } catch (WeixinException $e) {
        $problems[] = "exception {$e->getCode()}";
    }
    return stats($appid)['token_calls'] >= 2;
}, 8);
echo "due token, WeChat failing: refresh attempted: ", $failedRefresh ? 'yes' : 'no', ", current token served throughout: ",
    $problems ? implode(', ', array_unique($problems)) : 'yes', "\n";
// The refresh runs on a thread of this process: its marker follows
// WeChat's reply.
$marker = wait_for(fn () => str_starts_with((string) ($m = get_raw("$key:lock")), 'wx2 fail ') ? $m : null) ?: get_raw("$key:lock");
$ttl = memcached_ttl("$key:lock");
echo "  marker: ", preg_match('/^wx2 fail ahead \d+ [0-9a-fA-F]{16} \S+ -1 /', (string) $marker) ? 'wx2 fail ahead <hold> <fingerprint> <id> -1 ...' : var_export($marker, true),
    ", kept 5 to 60 s: ", $ttl !== null && $ttl >= 4 && $ttl <= 60 ? 'yes' : var_export($ttl, true), "\n";
echo "  next construction: ", (new class_weixin($appid, TEST_SECRET))->access_token === $old ? 'the current token' : 'another token',
    ", no new attempt: ", stats($appid)['token_calls'] === 2 ? 'yes' : 'no', "\n";
standin('/__admin/configure', ['appid' => $appid, 'clear' => 1]);
try {
    $new = $w->refresh_access_token();
    echo "WeChat recovered, refresh_access_token(): ", $new !== $old && token_is_current($new) && $w->access_token === $new
        ? 'a new current token' : 'not a new current token', ", upstream calls: ", stats($appid)['token_calls'], "\n";
    echo "  shared: ", (new class_weixin($appid, TEST_SECRET))->access_token === $new ? 'yes' : 'no', "\n";
} catch (WeixinException $e) {
    echo "WeChat recovered, refresh_access_token() threw: code {$e->getCode()}: ", without_retry_words($e->getMessage()), "\n";
}
forget_token($key);
reset_account($appid);
}
proc_terminate($old_memcached);
proc_close($old_memcached);
?>
--EXPECT--
== meta
wrong secret: code 40125
  marker: wx2 fail cold <hold> <fingerprint> <id> 40125 ...
  marker holds no secret: yes
the same wrong secret again: code 40125, upstream calls: 1
the right secret, the marker still there: a current token
upstream calls: 2
due token, WeChat failing: refresh attempted: yes, current token served throughout: yes
  marker: wx2 fail ahead <hold> <fingerprint> <id> -1 ..., kept 5 to 60 s: yes
  next construction: the current token, no new attempt: yes
WeChat recovered, refresh_access_token(): a new current token, upstream calls: 3
  shared: yes
== classic
wrong secret: code 40125
  marker: wx2 fail cold <hold> <fingerprint> <id> 40125 ...
  marker holds no secret: yes
the same wrong secret again: code 40125, upstream calls: 1
the right secret, the marker still there: a current token
upstream calls: 2
due token, WeChat failing: refresh attempted: yes, current token served throughout: yes
  marker: wx2 fail ahead <hold> <fingerprint> <id> -1 ..., kept 5 to 60 s: yes
  next construction: the current token, no new attempt: yes
WeChat recovered, refresh_access_token(): a new current token, upstream calls: 3
  shared: yes
