--TEST--
Looking up ext/curl's CURLFile and CURLStringFile for http_request()'s multipart body never runs a script's autoloader, in a PHP without ext/curl too (no ini files: Debian's curl is a shared extension)
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$script = tempnam(sys_get_temp_dir(), 'wxlookup');
file_put_contents($script, '<?php
spl_autoload_register(function ($class) { if (stripos($class, "curl") === 0) echo "autoloader asked for $class\n"; });
class app_weixin extends class_weixin { public function call($url, $data) { return $this->http_request($url, $data); } }
$w = (new ReflectionClass("app_weixin"))->newInstanceWithoutConstructor();
class Text { public function __toString(): string { return "as text"; } }
$echo = json_decode((string) $w->call(getenv("WEIXIN_TEST_API") . "/__echo/form", ["a" => new Text(), "b" => "2"]), true);
echo "ext/curl loaded: ", extension_loaded("curl") ? "yes" : "no", "; sent: ";
foreach ($echo["parts"] ?? [] as $part) echo $part["name"], "=", $part["text"], " ";
echo "\n";
');
foreach (['with the ini files' => [], 'without them (-n)' => ['-n']] as $label => $flags) {
    $command = [PHP_BINARY, ...$flags, '-d', 'extension=' . getenv('WEIXIN_TEST_EXT'), '-d', 'weixin.api_base_url=' . getenv('WEIXIN_TEST_API'), $script];
    $process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
    echo "$label: ", preg_replace('/ext\/curl loaded: (yes|no)/', 'ext/curl loaded: -', trim(stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]))), "\n";
    proc_close($process);
}
unlink($script);
?>
--EXPECT--
with the ini files: ext/curl loaded: -; sent: a=as text b=2
without them (-n): ext/curl loaded: -; sent: a=as text b=2
