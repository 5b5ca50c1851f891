--TEST--
Constructor arguments: a Stringable object is taken as PHP's own ?string parameters take one; a string that is not UTF-8 is a WeixinException naming the argument (never a silent fall-back to the configured account), and the AppSecret never shows
--INI--
weixin.cache_key=argtypes_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('argtypes');
reset_account($appid);
// The configured account a dropped argument would fall back to.
$fallback = test_appid('argtypes');
reset_account($fallback);
ini_set('weixin.appid', $fallback);
ini_set('weixin.appsecret', TEST_SECRET);

class Text { function __construct(private string $s) {} function __toString(): string { return $this->s; } }
$w = new class_weixin(new Text($appid), new Text(TEST_SECRET));
echo "Stringable: ", $w->appid === $appid && token_is_current($w->access_token) ? "account $appid" : $w->appid, "\n";

foreach ([[$appid, "\xff\xfe" . TEST_SECRET], ["wx\xc3", TEST_SECRET]] as [$id, $secret]) {
    try {
        $o = new class_weixin($id, $secret);
        echo "no exception: account ", $o->appid === $fallback ? 'the configured one' : bin2hex($o->appid), "\n";
    } catch (WeixinException $e) {
        echo get_class($e), ": ", $e->getMessage(), "\n";
        echo "  secret shown: ", str_contains($e->getMessage() . $e->getTraceAsString(), TEST_SECRET) ? 'yes' : 'no', "\n";
    }
}

class Broken { function __toString(): string { throw new LogicException('no text'); } }
try {
    new class_weixin(new Broken(), TEST_SECRET);
} catch (Throwable $e) {
    echo get_class($e), ": ", $e->getMessage(), "\n";
}
try {
    new class_weixin(new stdClass(), TEST_SECRET);
} catch (Throwable $e) {
    echo get_class($e), ": ", $e->getMessage(), "\n";
}
echo "upstream calls for the configured account: ", stats($fallback)['token_calls'], "\n";
?>
--EXPECTF--
Stringable: account %s
WeixinException: class_weixin::__construct(): Argument #2 ($appsecret) is not valid UTF-8 (an AppID and an AppSecret are letters and digits)
  secret shown: no
WeixinException: class_weixin::__construct(): Argument #1 ($appid) is not valid UTF-8 (an AppID and an AppSecret are letters and digits)
  secret shown: no
LogicException: no text
TypeError: class_weixin::__construct(): Argument #1 ($appid) must be of type ?string, stdClass given
upstream calls for the configured account: 0
