--TEST--
Credentials: constructor pair, then subclass defaults, then APPID/APPSECRET, then INI; none is an error
--INI--
weixin.cache_key=cred_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$fromIni = test_appid('ini');
$fromArgs = test_appid('args');
$fromSub = test_appid('sub');
$fromConst = test_appid('const');
foreach ([$fromIni, $fromArgs, $fromSub, $fromConst] as $a) reset_account($a);

// Nothing configured at all.
try {
    new class_weixin();
} catch (WeixinException $e) {
    echo get_class($e), ' ', $e->getCode(), ': ', $e->getMessage(), "\n";
}

ini_set('weixin.appid', $fromIni);
ini_set('weixin.appsecret', TEST_SECRET);
$w = new class_weixin();
echo "ini: ", $w->appid === $fromIni ? 'ok' : 'wrong', "\n";

// An incomplete pair is ignored, as in the legacy class.
$w = new class_weixin($fromArgs, '');
echo "half pair: ", $w->appid === $fromIni ? 'ok' : 'wrong', "\n";
$w = new class_weixin('0', TEST_SECRET);
echo "'0' is empty: ", $w->appid === $fromIni ? 'ok' : 'wrong', "\n";

$w = new class_weixin($fromArgs, TEST_SECRET);
echo "args: ", $w->appid === $fromArgs ? 'ok' : 'wrong', "\n";

// Redeclared defaults are honoured (a constant expression is fine too).
$src = str_replace('PLACEHOLDER', $fromSub, 'class sub_weixin extends class_weixin { var $appid = "PLACEHOLDER"; var $appsecret = TEST_SECRET; }');
eval($src);
$w = new sub_weixin();
echo "subclass: ", $w->appid === $fromSub ? 'ok' : 'wrong', "\n";

define('APPID', $fromConst);
define('APPSECRET', TEST_SECRET);
$w = new class_weixin();
echo "constants over INI: ", $w->appid === $fromConst ? 'ok' : 'wrong', "\n";
$w = new sub_weixin();
echo "subclass over constants: ", $w->appid === $fromSub ? 'ok' : 'wrong', "\n";
$w = new class_weixin($fromArgs, TEST_SECRET);
echo "args over all: ", $w->appid === $fromArgs ? 'ok' : 'wrong', "\n";
echo "tokens valid: ", token_is_current($w->access_token) ? 'yes' : 'no', "\n";

try {
    new class_weixin([]);
} catch (TypeError $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}

// As with the userland constructor: scalars are taken as strings, a
// reference is followed, and extra arguments are ignored.
class probe_weixin extends class_weixin
{
    public function __construct(...$args)
    {
        try {
            parent::__construct(...$args);
        } catch (WeixinException $e) {
            // the stand-in does not know these AppIDs
        }
    }
}
$appid = $fromArgs;
$byRef = [&$appid, TEST_SECRET];
var_dump((new probe_weixin(12345, 678))->appid, (new probe_weixin(...$byRef))->appid === $fromArgs);
var_dump((new class_weixin($fromArgs, TEST_SECRET, 'extra', 'args'))->access_token === $w->access_token);
?>
--EXPECT--
WeixinException 0: class_weixin has no AppID: pass it to the constructor, declare $appid in a subclass, define the constant APPID, or set weixin.appid
ini: ok
half pair: ok
'0' is empty: ok
args: ok
subclass: ok
constants over INI: ok
subclass over constants: ok
args over all: ok
tokens valid: yes
TypeError: class_weixin::__construct(): Argument #1 ($appid) must be of type ?string, array given
string(5) "12345"
bool(true)
bool(true)
