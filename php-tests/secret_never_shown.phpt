--TEST--
The AppSecret never shows in var_dump, print_r, exceptions, traces (with args) or warnings
--INI--
weixin.cache_key=secret_{appid}
zend.exception_ignore_args=0
weixin.timeout=1
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('secret');
reset_account($appid);
$secret = 'S3CRETS3CRETS3CRETS3CRETS3CRET99';

function everything_printed(callable $f): string
{
    ob_start();
    $f();
    return ob_get_clean();
}

class probe extends class_weixin { function go($u) { return $this->http_request($u); } }
$w = new class_weixin($appid, $secret);
$probe = new probe($appid, $secret);
$out = everything_printed(function () use ($w) {
    var_dump($w);
    print_r($w);
    echo "\n";
    debug_zval_dump($w);
});
var_dump(str_contains($out, $secret), substr_count($out, '********') >= 2);
var_dump($w->appsecret === $secret); // still readable by code

// Exceptions from every failing path: message and full trace with arguments.
set_error_handler(function ($no, $str) use ($secret) {
    if (!(error_reporting() & $no)) return false;
    echo 'warning has secret: ', var_export(str_contains($str, $secret), true), "\n";
    return true;
});
$traces = '';
foreach ([['errcode' => 40125, 'errmsg' => "invalid appsecret $secret"], ['body' => "oops $secret"], ['delay_ms' => 1500]] as $behaviour) {
    $appid = test_appid('secret');
    reset_account($appid, $behaviour);
    try {
        new class_weixin($appid, $secret);
    } catch (WeixinException $e) {
        $traces .= $e->getMessage() . "\n" . $e->getTraceAsString() . "\n" . $e . "\n" . print_r($e->getTrace(), true);
    }
}
var_dump(str_contains($traces, $secret), str_contains($traces, 'SensitiveParameterValue'));

// The same through a refused connection, a secret that needs URL-encoding, and INI.
ini_set('weixin.api_base_url', 'http://127.0.0.1:1');
$odd = 'sec ret/+&=' . $secret;
ini_set('weixin.appsecret', $odd);
ini_set('weixin.appid', test_appid('secret'));
try {
    new class_weixin();
} catch (WeixinException $e) {
    $text = (string) $e;
    var_dump(str_contains($text, $secret), str_contains($text, rawurlencode($odd)), str_contains($text, urlencode($odd)));
}

// A warning from http_request never carries the secret either.
var_dump($probe->go("http://127.0.0.1:1/x?secret=$secret"));
?>
--EXPECT--
bool(false)
bool(true)
bool(true)
bool(false)
bool(true)
bool(false)
bool(false)
bool(false)
warning has secret: false
bool(false)
