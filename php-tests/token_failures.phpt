--TEST--
Every failure kind throws WeixinException (errcode as code) and writes nothing to memcached: no token, no record, at most a short failure marker under KEY:lock
--INI--
weixin.cache_key=fail_{appid}
weixin.token_timeout=1
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$memcache = legacy_memcache();

/** Every key in the test memcached (lru_crawler metadump), decoded. */
function all_keys(): array
{
    [$host, $port] = explode(':', getenv('WEIXIN_TEST_MEMCACHED'));
    $deadline = time() + 10;
    do {
        $socket = fsockopen($host, (int) $port, $errno, $errstr, 2);
        stream_set_timeout($socket, 5);
        fwrite($socket, "lru_crawler metadump all\r\n");
        $keys = [];
        while (($line = fgets($socket)) !== false && $line !== "END\r\n") {
            if (preg_match('/^key=(\S+) /', $line, $m)) {
                $keys[] = urldecode($m[1]);
            } elseif (preg_match('/^BUSY|^ERROR/', $line)) { // a crawl already under way: ask again
                $keys = null;
                break;
            }
        }
        fclose($socket);
        if ($keys !== null && $line === "END\r\n") {
            return $keys;
        }
    } while (time() < $deadline);
    throw new RuntimeException("memcached did not list its keys: " . var_export($line, true));
}

/**
 * What a failed token request left in memcached for $key: nothing at all,
 * except possibly the short failure marker under KEY:lock (by design: other
 * processes report the error for a moment instead of calling WeChat again).
 * That marker must not hold a token, nor outlive the lock (ceil(weixin.token_timeout) + 2 s).
 */
function leftovers(string $key, string $appid): string
{
    global $memcache;
    $problems = [];
    foreach ([$key, "$key:meta", "$key:stable", "$key:stable:meta", "$key:stable:lock"] as $k) {
        if ($memcache->get($k) !== false || memcached_ttl($k) !== null) {
            $problems[] = "$k is set";
        }
    }
    foreach (all_keys() as $k) {
        if (($k === $key || str_starts_with($k, "$key:")) && $k !== "$key:lock") {
            $problems[] = "$k is set";
        }
    }
    $lock = $memcache->get("$key:lock");
    $issued = array_filter([stats($appid)['current_token']]);
    if (is_string($lock) && (preg_match('/[A-Za-z0-9_-]{100}/', $lock) || in_array($lock, $issued, true) || token_is_current($lock))) {
        $problems[] = "$key:lock holds a token";
    }
    $ttl = memcached_ttl("$key:lock");
    $lockLife = (int) ceil((float) ini_get('weixin.token_timeout')) + 2;
    if ($ttl !== null && ($ttl < 0 || $ttl > $lockLife)) {
        $problems[] = "$key:lock is kept for " . ($ttl < 0 ? 'ever' : "$ttl s");
    }
    return array_unique($problems) ? implode(', ', array_unique($problems)) : 'nothing';
}

function attempt(string $label, string $appid, string $secret = TEST_SECRET): void
{
    try {
        new class_weixin($appid, $secret);
        echo "$label: no exception\n";
    } catch (WeixinException $e) {
        printf("%s: code %d, %s\n", $label, $e->getCode(), $e->getMessage());
    }
    echo '  left in memcached: ', leftovers("fail_$appid", $appid), "\n";
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
  left in memcached: nothing
HTTP 502: code 0, WeChat token request failed: HTTP status 502 (body: '<html>bad gateway</html>') (check weixin.api_base_url and this server's network)
  left in memcached: nothing
not JSON: code 0, WeChat token request failed: the reply is not JSON (body: 'not json') (check weixin.api_base_url and this server's network)
  left in memcached: nothing
no access_token: code 0, WeChat token request failed: the reply has no usable access_token (body: '{"expires_in":7200}') (check weixin.api_base_url and this server's network)
  left in memcached: nothing
timeout: code 0, request to http://127.0.0.1:%d/cgi-bin/token failed: %s(timed out after 1s; see weixin.token_timeout)
  left in memcached: nothing
bad appid: code 40013, WeChat refused the token request: errcode 40013, errmsg "invalid appid%A" (check the AppID)
  left in memcached: nothing
bad secret: code 40125, WeChat refused the token request: errcode 40125, errmsg "invalid appsecret%A" (check the AppSecret)
  left in memcached: nothing
connection refused: code 0, request to http://127.0.0.1:1/cgi-bin/token failed: %s (check weixin.api_base_url and this server's network)
  left in memcached: nothing
