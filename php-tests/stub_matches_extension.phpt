--TEST--
weixin.stub.php and weixin.ini match the extension: classes, properties, methods, parameters, return types, INI entries and defaults
--FILE--
<?php
require __DIR__ . '/describe.inc';
$stub = dirname(__DIR__) . '/weixin.stub.php';
$classes = ['class_weixin', 'class_weixin_native', 'WeixinException'];

$extension = implode("\n", array_map('describe_class', $classes));

// The stub, described by a PHP without the extension (-n: no ini files at all).
$code = 'require ' . var_export(__DIR__ . '/describe.inc', true) . '; require ' . var_export($stub, true) . ';'
    . ' echo implode("\n", array_map("describe_class", ' . var_export($classes, true) . '));';
$fromStub = shell_exec(escapeshellarg(PHP_BINARY) . ' -n -r ' . escapeshellarg($code));

if ($extension === $fromStub) {
    echo "classes match\n";
} else {
    echo "extension:\n$extension\n\nstub:\n$fromStub\n";
}

// INI: names and defaults as registered (a PHP with only the extension, no -d settings).
$code = 'foreach (ini_get_all("weixin", false) as $k => $v) echo $k, "=", $v, "\n";';
$registered = [];
foreach (explode("\n", trim(shell_exec(escapeshellarg(PHP_BINARY) . ' -n -d extension=' . escapeshellarg(getenv('WEIXIN_TEST_EXT'))
    . ' -r ' . escapeshellarg($code)))) as $line) {
    [$k, $v] = explode('=', $line, 2);
    $registered[$k] = $v;
}
$documented = stub_ini_entries($stub);
ksort($registered);
ksort($documented);
echo $registered === $documented ? "INI entries match\n" : "registered:\n" . print_r($registered, true) . "documented:\n" . print_r($documented, true);
echo count($registered), " INI entries\n";

// weixin.ini (what make install writes) documents every entry with its default.
preg_match_all('/^;(weixin\.\w+) =(.*)$/m', file_get_contents(dirname(__DIR__) . '/weixin.ini'), $m, PREG_SET_ORDER);
$inFile = [];
foreach ($m as [, $name, $value]) $inFile[$name] = trim($value);
ksort($inFile);
echo $inFile === $registered ? "weixin.ini matches\n" : "weixin.ini:\n" . print_r($inFile, true);
echo describe_class('class_weixin'), "\n";
// The same members under the name legacy copies extend.
echo substr(describe_class('class_weixin'), strlen('#[AllowDynamicProperties] class class_weixin'))
    === substr(describe_class('class_weixin_native'), strlen('#[AllowDynamicProperties] class class_weixin_native'))
    ? "class_weixin_native: the same members\n" : describe_class('class_weixin_native') . "\n";
?>
--EXPECT--
classes match
INI entries match
18 INI entries
weixin.ini matches
#[AllowDynamicProperties] class class_weixin extends -
  property public $appid = NULL
  property public $appsecret = NULL
  property public $access_token = NULL
  method public __construct(?string $appid = NULL, #[SensitiveParameter] ?string $appsecret = NULL, mixed ...$ignored)
  method protected http_request($url, $data = NULL)
  method public refresh_access_token(): string
  method public get_jsapi_ticket(): string
  method public get_ticket(string $type = 'jsapi'): string
  method public jssdk_config(string $url, array $jsApiList = [], bool $debug = false, array $openTagList = []): array
  method public __debugInfo(): array
class_weixin_native: the same members
