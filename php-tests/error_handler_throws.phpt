--TEST--
Under an error handler that throws every warning, as ThinkPHP's and Laravel's do: memcached down never becomes an exception for a caller that can be given a token (the reason goes to PHP's error log, once per request); the daily quota's warning neither; http_request() keeps curl_exec()'s contract (false, nothing thrown) and heals a refused token with its one retry
--INI--
weixin.cache_key=handler_{appid}
weixin.memcache_servers=127.0.0.1:1
log_errors=1
display_errors=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$log = tempnam(sys_get_temp_dir(), 'wxlog');
ini_set('error_log', $log);
set_error_handler(function (int $type, string $message, string $file, int $line) {
    throw new ErrorException($message, 0, $type, $file, $line);
});
class app_weixin extends class_weixin
{
    public function call(string $url, $data = null) { return $this->http_request($url, $data); }
}
function logged(string $log): string
{
    $lines = array_filter(explode("\n", (string) file_get_contents($log)));
    $lines = preg_replace(['/^\[[^\]]*\] /', '/127\.0\.0\.1:\d+/', '/ in \S+ on line \d+$/', '/failed: .*\(check/', '/\/\/[^\/]*\//'],
        ['', 'HOST', ' in FILE on line N', 'failed: ... (check', '//HOST/'], $lines);
    file_put_contents($log, '');
    return $lines ? implode("\n", $lines) : '(nothing)';
}

// memcached unreachable: the constructor gets the token all the same.
$appid = test_appid('handler');
reset_account($appid);
foreach ([1, 2] as $i) {
    try {
        $w = new app_weixin($appid, TEST_SECRET);
        echo "construction $i: ", token_is_current($w->access_token) ? 'a current token' : 'a token WeChat refuses', "\n";
    } catch (Throwable $e) {
        echo "construction $i: ", get_class($e), ": ", without_retry_words($e->getMessage()), "\n";
    }
}
echo "error log:\n", logged($log), "\n";

// A transport failure: false, as curl_exec() returned, and nothing thrown.
try {
    var_dump($w->call('http://127.0.0.1:' . free_port() . '/cgi-bin/getcallbackip'));
} catch (Throwable $e) {
    echo get_class($e), ": ", without_retry_words($e->getMessage()), "\n";
}
echo "error log:\n", without_retry_words(logged($log)), "\n";

// The token refused (WeChat expired it): replaced, the request sent once
// more with the new token, nothing thrown.
standin('/__admin/expire', ['appid' => $appid]);
try {
    $reply = json_decode($w->call(getenv('WEIXIN_TEST_API') . '/cgi-bin/message/template/send?access_token=' . $w->access_token,
        json_encode(['touser' => 'o1', 'template_id' => 't1', 'data' => []])), true);
    echo "refused token: errcode ", $reply['errcode'] ?? 'none', ", the object's token replaced: ",
        token_is_current($w->access_token) ? 'yes' : 'no', "\n";
} catch (Throwable $e) {
    echo get_class($e), ": ", without_retry_words($e->getMessage()), "\n";
}
echo "error log:\n", logged($log), "\n";

// The daily quota's warning (memcached up, threshold 1): logged, not thrown.
ini_set('weixin.memcache_servers', getenv('WEIXIN_TEST_MEMCACHED'));
ini_set('weixin.daily_quota_warning', '1');
$appid = test_appid('handler');
reset_account($appid);
try {
    // The second token request of the day passes the threshold of 1.
    $w = new class_weixin($appid, TEST_SECRET);
    echo "past the daily threshold: ", token_is_current($w->refresh_access_token()) ? 'a current token' : 'a token WeChat refuses',
        ", token requests: ", stats($appid)['token_calls'], "\n";
} catch (Throwable $e) {
    echo get_class($e), ": ", $e->getMessage(), "\n";
}
echo "error log:\n", preg_replace(['/\d+ /', '/AppID \S+,/'], ['N ', 'AppID APPID,'], logged($log)), "\n";
forget_token("handler_$appid");
unlink($log);
?>
--EXPECT--
construction 1: a current token
construction 2: a current token
error log:
PHP Warning:  class_weixin::__construct(): memcached at HOST failed: ... (check weixin.memcache_servers and weixin.memcache_timeout) in FILE on line N
bool(false)
error log:
PHP Warning:  class_weixin::http_request(): request to http://HOST/cgi-bin/getcallbackip failed: error sending request: client error (Connect): tcp connect error: Connection-refused (os error 111) in FILE on line N
refused token: errcode 0, the object's token replaced: yes
error log:
(nothing)
past the daily threshold: a current token, token requests: 2
error log:
PHP Warning:  class_weixin::refresh_access_token(): N token requests (GET /cgi-bin/token) to WeChat today (Beijing time) for AppID APPID, counted by every server sharing memcached, past weixin.daily_quota_warning=1: WeChat allows N a day and refuses more (errcode 45009) until midnight Beijing time; find what requests tokens this often (warned once per process) in FILE on line N
