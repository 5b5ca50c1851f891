--TEST--
Credentials that are not UTF-8 in a property, a constant or an INI setting are errors naming where they are, never a silent fall-back to the next source (another account)
--INI--
weixin.cache_key=utf8_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$fallback = test_appid('utf8');
reset_account($fallback);
ini_set('weixin.appid', $fallback);
ini_set('weixin.appsecret', TEST_SECRET);

function attempt(string $what, callable $make): void {
    try {
        $w = $make();
        echo "$what: the account ", $w->appid === $GLOBALS['fallback'] ? 'of weixin.appid' : $w->appid, "\n";
    } catch (WeixinException $e) {
        echo "$what: ", $e->getMessage(), "\n";
    }
}

class latin1_appid extends class_weixin { public $appid = "wx\xe9t\xe9"; }
class latin1_secret extends class_weixin { public $appsecret = "s\xe9cret"; }
attempt('property $appid', fn () => new latin1_appid());
attempt('property $appsecret', fn () => new latin1_secret());

define('APPID', "wx\xff\xfe");
attempt('constant APPID', fn () => new class_weixin());

ini_set('weixin.appid', "wx\xc3\x28");
// Like any setting that cannot be read, it stops every construction.
attempt('weixin.appid', fn () => new class_weixin($fallback, TEST_SECRET));
?>
--EXPECT--
property $appid: the property $appid is not valid UTF-8 (an AppID and an AppSecret are letters and digits)
property $appsecret: the property $appsecret is not valid UTF-8 (an AppID and an AppSecret are letters and digits)
constant APPID: the constant APPID is not valid UTF-8 (an AppID and an AppSecret are letters and digits)
weixin.appid: weixin.appid is not valid UTF-8 (as this script set it)