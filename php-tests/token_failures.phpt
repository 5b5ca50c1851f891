--TEST--
Every failure kind throws WeixinException (errcode as code) and writes nothing to memcached
--INI--
weixin.cache_key=fail_{appid}
weixin.timeout=1
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$memcache = legacy_memcache();

function attempt(string $label, string $appid, string $secret = TEST_SECRET): void
{
    global $memcache;
    try {
        new class_weixin($appid, $secret);
        echo "$label: no exception\n";
    } catch (WeixinException $e) {
        printf("%s: code %d, %s\n", $label, $e->getCode(), $e->getMessage());
    }
    echo '  cached: ', var_export($memcache->get("fail_$appid"), true), "\n";
}

$cases = [
    'errcode reply' => ['errcode' => 40164, 'errmsg' => 'invalid ip 1.2.3.4, not in whitelist'],
    'HTTP 502' => ['http_status' => 502, 'body' => '<html>bad gateway</html>'],
    'not JSON' => ['body' => 'not json'],
    'no access_token' => ['body' => '{"expires_in":7200}'],
    'timeout' => ['delay_ms' => 2500],
];
foreach ($cases as $label => $behaviour) {
    $appid = test_appid('fail');
    reset_account($appid, $behaviour);
    attempt($label, $appid);
}

// The stand-in's own validation: bad AppID, bad AppSecret.
attempt('bad appid', 'wx_not_an_appid_' . bin2hex(random_bytes(3)));
$appid = test_appid('fail');
reset_account($appid);
attempt('bad secret', $appid, 'short');

// Nothing listens there.
ini_set('weixin.api_base_url', 'http://127.0.0.1:1');
attempt('connection refused', test_appid('fail'));
?>
--EXPECTF--
errcode reply: code 40164, WeChat refused the token request: errcode 40164, errmsg "invalid ip 1.2.3.4, not in whitelist%A" (add this server's IP to the account's IP whitelist)
  cached: false
HTTP 502: code 0, WeChat token request failed: HTTP status 502 (body: '<html>bad gateway</html>') (check weixin.api_base_url and this server's network)
  cached: false
not JSON: code 0, WeChat token request failed: the reply is not JSON (body: 'not json') (check weixin.api_base_url and this server's network)
  cached: false
no access_token: code 0, WeChat token request failed: the reply has no usable access_token (body: '{"expires_in":7200}') (check weixin.api_base_url and this server's network)
  cached: false
timeout: code 0, request to http://127.0.0.1:%d/cgi-bin/token failed: %s(timed out after 1s; see weixin.timeout)
  cached: false
bad appid: code 40013, WeChat refused the token request: errcode 40013, errmsg "invalid appid%A" (check the AppID)
  cached: false
bad secret: code 40125, WeChat refused the token request: errcode 40125, errmsg "invalid appsecret%A" (check the AppSecret)
  cached: false
connection refused: code 0, request to http://127.0.0.1:1/cgi-bin/token failed: %s (check weixin.api_base_url and this server's network)
  cached: false
