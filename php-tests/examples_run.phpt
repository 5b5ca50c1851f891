--TEST--
The examples run against the stand-in: the seed script, a subclass sending a template message, the retry-once-after-40001 pattern
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$examples = dirname(__DIR__) . '/examples';
$appid = test_appid('examples');
reset_account($appid);
$ini = ['weixin.cache_key' => 'examples_{appid}'];
$env = ['WEIXIN_APPID' => $appid, 'WEIXIN_APPSECRET' => TEST_SECRET];

function run_example(string $file, array $ini, array $env): string
{
    $process = proc_open([...php_command($ini), $file], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env + getenv());
    $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
    proc_close($process);
    return $out;
}

$seed = run_example("$examples/seed.php", $ini, $env);
echo preg_match('/\["appsecret"\]=>\s+string\(8\) "\*{8}"/', $seed) && preg_match('/\["access_token"\]=>\s+string\(\d+\) "[\w-]+"/', $seed)
    ? "seed: object dumped, secret masked\n" : "seed: $seed\n";
echo "template message: ", run_example("$examples/template_message.php", $ini, $env);

// Someone else (a legacy server, a tool) fetches a new token: the cached one
// is now refused. http_request() heals it by itself; with
// weixin.auto_refresh=0 the example's own retry does.
foreach (['1', '0'] as $auto) {
    standin('/cgi-bin/token', ['grant_type' => 'client_credential', 'appid' => $appid, 'secret' => TEST_SECRET]);
    echo "weixin.auto_refresh=$auto:\n", run_example("$examples/retry_after_40001.php", $ini + ['weixin.auto_refresh' => $auto], $env);
}
echo "upstream calls: ", stats($appid)['token_calls'], "\n";
?>
--EXPECT--
seed: object dumped, secret masked
template message: errcode 0: ok
weixin.auto_refresh=1:
errcode 0: ok
weixin.auto_refresh=0:
token refused (errcode 40001), refreshing and retrying once
errcode 0: ok
upstream calls: 5
