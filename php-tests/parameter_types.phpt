--TEST--
Declared parameters follow PHP's rules for an internal function: a TypeError under strict_types, weak mode's coercions (1 is true, null for a string deprecated), and no "Arginfo / zpp mismatch" on a debug PHP; http_request() stays untyped
--INI--
weixin.cache_key=types_{appid}
error_reporting=E_ALL
--FILE--
<?php
declare(strict_types=1);
require __DIR__ . '/helpers.inc';
$appid = test_appid('types');
reset_account($appid);
class app_weixin extends class_weixin
{
    public function call($url, $data = null) { return $this->http_request($url, $data); }
}
$w = new app_weixin($appid, TEST_SECRET);
$url = 'https://example.com/page';

echo "strict_types:\n";
foreach ([
    'get_ticket(1)' => fn () => $w->get_ticket(1),
    'jssdk_config($url, "notarray")' => fn () => $w->jssdk_config($url, 'notarray'),
    'jssdk_config($url, [], 1)' => fn () => $w->jssdk_config($url, [], 1),
    'jssdk_config(5)' => fn () => $w->jssdk_config(5),
    'new class_weixin(1, 2)' => fn () => new class_weixin(1, 2),
    'get_jsapi_ticket("extra")' => fn () => $w->get_jsapi_ticket('extra'),
] as $call => $run) {
    try {
        $run();
        echo "  $call: accepted\n";
    } catch (Throwable $e) {
        echo "  $call: ", get_class($e), ": ", $e->getMessage(), "\n";
    }
}
$echo = json_decode((string) $w->call(getenv('WEIXIN_TEST_API') . '/__echo/untyped', 123), true);
echo "  http_request(\$url, 123), untyped: ", $echo['body'] ?? 'no reply', "\n";

// Weak mode: a file without strict_types.
$weak = tempnam(sys_get_temp_dir(), 'wxweak');
file_put_contents($weak, '<?php
$w = new class_weixin("' . $appid . '", "' . TEST_SECRET . '");
$config = $w->jssdk_config("https://example.com/page", [], 1);
echo "  jssdk_config(\\$url, [], 1): debug ", var_export($config["debug"], true), "\n";
try { $w->get_ticket(null); } catch (WeixinException $e) { echo "  get_ticket(null), null taken as \'\': ", $e->getMessage(), "\n"; }
class Text { function __toString(): string { return "jsapi"; } }
echo "  get_ticket(Stringable): ", $w->get_ticket(new Text()) === $w->get_jsapi_ticket() ? "the jsapi ticket" : "another", "\n";
try { $w->get_ticket([]); } catch (TypeError $e) { echo "  get_ticket([]): TypeError: ", $e->getMessage(), "\n"; }
');
echo "weak mode:\n";
$process = proc_open([...php_command(['weixin.cache_key' => 'types_{appid}', 'display_errors' => 'stdout', 'html_errors' => '0']), $weak],
    [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
echo str_replace($weak, 'FILE', rtrim(stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]))), "\n";
proc_close($process);
unlink($weak);
forget_token("types_$appid");
?>
--EXPECT--
strict_types:
  get_ticket(1): TypeError: class_weixin::get_ticket(): Argument #1 ($type) must be of type string, int given
  jssdk_config($url, "notarray"): TypeError: class_weixin::jssdk_config(): Argument #2 ($jsApiList) must be of type array, string given
  jssdk_config($url, [], 1): TypeError: class_weixin::jssdk_config(): Argument #3 ($debug) must be of type bool, int given
  jssdk_config(5): TypeError: class_weixin::jssdk_config(): Argument #1 ($url) must be of type string, int given
  new class_weixin(1, 2): TypeError: class_weixin::__construct(): Argument #1 ($appid) must be of type ?string, int given
  get_jsapi_ticket("extra"): ArgumentCountError: class_weixin::get_jsapi_ticket() expects exactly 0 arguments, 1 given
  http_request($url, 123), untyped: 123
weak mode:
  jssdk_config($url, [], 1): debug true

Deprecated: class_weixin::get_ticket(): Passing null to parameter #1 ($type) of type string is deprecated in FILE on line 5
  get_ticket(null), null taken as '': class_weixin::get_ticket(): Argument #1 ($type) must be 'jsapi' or 'wx_card', '' given
  get_ticket(Stringable): the jsapi ticket
  get_ticket([]): TypeError: class_weixin::get_ticket(): Argument #1 ($type) must be of type string, array given
