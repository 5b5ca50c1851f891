--TEST--
weixin.token_timeout (default 5, (0, 30] s) bounds the token request and the fetch lock's life, separately from weixin.timeout, which stays the timeout of http_request()
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--INI--
weixin.cache_key=tt_{appid}
weixin.timeout=60
weixin.token_timeout=1
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$probe = spawn_child('return ini_get("weixin.token_timeout");'); // no setting given
echo "default: ", var_export(ask($probe, 'go'), true), "\n";
echo stop_child($probe);

// A slow token endpoint (3 s) with weixin.timeout=60 and weixin.token_timeout=1.
$appid = test_appid('tt');
$key = "tt_$appid";
reset_account($appid, ['delay_ms' => 3000]);
$child = spawn_constructor(['weixin.cache_key' => 'tt_{appid}', 'weixin.timeout' => '60', 'weixin.token_timeout' => '1']);
send($child, $appid);
$fetching = wait_for(fn () => stats($appid)['in_flight'] >= 1, 10);
$ttl = memcached_ttl("$key:lock");
$lock = get_raw("$key:lock");
$got = receive($child);
echo "fetching: ", $fetching ? 'yes' : 'no', "; lock kept ceil(1) + 2 s at most: ", $ttl !== null && $ttl >= 1 && $ttl <= 3 ? 'yes' : var_export($ttl, true), "\n";
echo "lock value: ", preg_match('/^wx2 fetch 3 \S+$/', (string) $lock) ? 'wx2 fetch 3 <id>' : var_export($lock, true), "\n";
echo "construction: ", isset($got['class']) ? $got['class'] . (str_contains($got['message'], 'weixin.token_timeout') ? ' naming weixin.token_timeout' : ": {$got['message']}")
    : (isset($got['token']) ? 'a token' : json_encode($got)),
    ", within 2.5 s: ", ($got['seconds'] ?? 99) < 2.5 ? 'yes' : "no ({$got['seconds']} s)", "\n";
echo stop_child($child);
forget_token($key);
reset_account($appid);

// Out of range or not a number: the construction says which setting and its range.
foreach (['31', '0', 'abc'] as $value) {
    $appid = test_appid('tt');
    $child = spawn_constructor(['weixin.cache_key' => 'tt_{appid}', 'weixin.token_timeout' => $value]);
    $got = ask($child, $appid);
    echo "weixin.token_timeout=$value: ", isset($got['class'])
        ? $got['class'] . (str_contains($got['message'], 'weixin.token_timeout') && preg_match('/\b30\b/', $got['message']) ? ' naming the setting and its range' : ": {$got['message']}")
        : 'no exception', "\n";
    echo stop_child($child);
    forget_token("tt_$appid");
    reset_account($appid);
}

// weixin.timeout (60) still bounds http_request(): a reply after 1.5 s arrives.
class tt_weixin extends class_weixin
{
    public function get(string $url)
    {
        return $this->http_request($url);
    }
}
$appid = test_appid('tt');
reset_account($appid);
$reply = (new tt_weixin($appid, TEST_SECRET))->get(getenv('WEIXIN_TEST_API') . '/__echo?delay_ms=1500');
echo "http_request() waits past weixin.token_timeout: ", is_string($reply) && (json_decode($reply, true)['path'] ?? '') === '/__echo' ? 'yes' : 'no', "\n";
forget_token("tt_$appid");
reset_account($appid);
?>
--EXPECT--
default: '5'
fetching: yes; lock kept ceil(1) + 2 s at most: yes
lock value: wx2 fetch 3 <id>
construction: WeixinException naming weixin.token_timeout, within 2.5 s: yes
weixin.token_timeout=31: WeixinException naming the setting and its range
weixin.token_timeout=0: WeixinException naming the setting and its range
weixin.token_timeout=abc: WeixinException naming the setting and its range
http_request() waits past weixin.token_timeout: yes
