--TEST--
weixin.proxy: token requests (plain HTTP, and HTTPS through a CONNECT tunnel) and http_request() go through the proxy; proxies from the environment are ignored; a refusing proxy is named, its password and the AppSecret never shown; bad values name the setting
--INI--
weixin.cache_key=proxy_{appid}
zend.exception_ignore_args=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$api = getenv('WEIXIN_TEST_API');
$tls = getenv('WEIXIN_TEST_API_TLS');
$ca = getenv('WEIXIN_TEST_CA_FILE');
$secret = 'PRXSECRETPRXSECRETPRXSECRET12345';
$places = [parse_url($api, PHP_URL_PORT) => 'API', parse_url($tls, PHP_URL_PORT) => 'TLS'];

/** Text with the test's ports named (API, TLS, PROXY, GUARDED). */
function shown(string $text): string
{
    global $places;
    foreach ($places as $port => $name) {
        $text = str_replace("127.0.0.1:$port", $name, $text);
    }
    return without_retry_words($text);
}

/** What the proxy did, each kind of request once, in order. */
function proxy_log(array $proxy): string
{
    return shown(implode("\n", array_unique(forward_proxy_stats($proxy)['requests']))) . "\n";
}

function proxy_counts(array $proxy): array
{
    $stats = forward_proxy_stats($proxy);
    unset($stats['requests']);
    return $stats;
}

class api extends class_weixin
{
    public function call($url, $data = null) { return $this->http_request($url, $data); }
}

/** A token for a new account at $base (plain or TLS stand-in): what the stand-in says of it, and its count. */
function fetch_token(string $base, string $secret): string
{
    global $tls;
    $https = $base === $tls;
    $appid = test_appid('proxy');
    standin('/__admin/reset', ['appid' => $appid], $https);
    ini_set('weixin.api_base_url', $base);
    try {
        $token = (new class_weixin($appid, $secret))->access_token;
    } catch (WeixinException $e) {
        return 'exception: ' . shown($e->getMessage());
    }
    $current = isset(standin('/cgi-bin/getcallbackip', ['access_token' => $token], $https)['ip_list']);
    return ($current ? 'current' : 'not current') . ', stand-in token calls: '
        . standin('/__admin/stats', ['appid' => $appid], $https)['token_calls'];
}

echo "--- through an open proxy\n";
$open = start_forward_proxy();
$places[$open['port']] = 'PROXY';
ini_set('weixin.proxy', $open['url']);
ini_set('weixin.ca_file', $ca);
echo "plain HTTP token: ", fetch_token($api, $secret), "\n";
echo "HTTPS token: ", fetch_token($tls, $secret), "\n";
$w = new api(test_appid('proxy'), $secret);
foreach (["$api/__echo/plain?x=1", "$tls/__echo/tunneled"] as $url) {
    $echo = json_decode((string) $w->call($url), true);
    echo "http_request: ", $echo['path'], ", via: ", $echo['headers']['via'] ?? 'nothing', "\n";
}
echo proxy_log($open);

echo "--- proxies in the environment, weixin.proxy empty\n";
$before = proxy_counts($open);
$env = [];
foreach (['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'] as $name) {
    $env[$name] = $open['url'];
}
$env['NO_PROXY'] = $env['no_proxy'] = '';
// run-tests.php sets REQUEST_METHOD, and reqwest ignores every proxy from the
// environment of a process that has it (a CGI process: httpoxy). The child is
// a plain CLI process, as php-fpm workers and CLI scripts are.
$env['REQUEST_METHOD'] = null;
$child = spawn_child('[$base, $appid, $secret] = explode(" ", $line);
    ini_set("weixin.api_base_url", $base);
    try {
        $w = new class($appid, $secret) extends class_weixin { function call($u) { return $this->http_request($u); } };
        $echo = json_decode((string) $w->call("$base/__echo/direct"), true);
        return ["environment" => getenv("HTTPS_PROXY") . " " . getenv("http_proxy"), "cgi" => getenv("REQUEST_METHOD") !== false, "setting" => ini_get("weixin.proxy"),
            "token" => strlen($w->access_token), "http_request" => $echo["path"] ?? null, "via" => $echo["headers"]["via"] ?? "nothing"];
    } catch (Throwable $e) {
        return ["error" => without_retry_words($e->getMessage())];
    }', ['weixin.cache_key' => 'proxy_{appid}', 'weixin.ca_file' => $ca], $env);
foreach ([$api, $tls] as $base) {
    $appid = test_appid('proxyenv');
    standin('/__admin/reset', ['appid' => $appid], $base === $tls);
    echo shown(json_encode(ask($child, "$base $appid $secret"))), ", stand-in token calls: ",
        standin('/__admin/stats', ['appid' => $appid], $base === $tls)['token_calls'], "\n";
}
echo shown(stop_child($child));
echo "the proxy saw nothing more: ", var_export(proxy_counts($open) === $before, true), "\n";

echo "--- a proxy that wants a password\n";
$guarded = start_forward_proxy('bob:p@ss w%rd');
$places[$guarded['port']] = 'GUARDED';
ini_set('weixin.proxy', "http://bob:p%40ss%20w%25rd@127.0.0.1:{$guarded['port']}");
echo "plain HTTP token: ", fetch_token($api, $secret), "\n";
echo "HTTPS token: ", fetch_token($tls, $secret), "\n";
$password = 'WRONGPASSWORD77';
ini_set('weixin.proxy', "http://bob:$password@127.0.0.1:{$guarded['port']}");
$shown = '';
foreach ([$api, $tls] as $base) {
    ini_set('weixin.api_base_url', $base);
    try {
        new class_weixin(test_appid('proxy'), $secret);
        echo "no exception\n";
    } catch (WeixinException $e) {
        echo "refused (code {$e->getCode()}): ", shown($e->getMessage()), "\n";
        $shown .= $e->getMessage() . $e->getTraceAsString() . $e . print_r($e->getTrace(), true);
    }
}
set_error_handler(function ($no, $message) use (&$shown) {
    echo "warning: ", shown($message), "\n";
    $shown .= $message;
    return true;
});
var_dump($w->call("$tls/__echo/tunneled"));
restore_error_handler();
ob_start();
phpinfo(INFO_MODULES);
$info = ob_get_clean();
preg_match('/^weixin\.proxy => .*$/m', $info, $line);
echo "phpinfo: ", shown($line[0]), "\n";
$ri = (string) shell_exec(implode(' ', array_map('escapeshellarg', [PHP_BINARY, '-n', '-d', 'extension=' . getenv('WEIXIN_TEST_EXT'),
    '-d', "weixin.proxy=http://bob:$password@127.0.0.1:{$guarded['port']}", '--ri', 'weixin'])));
preg_match('/^weixin\.proxy => .*$/m', $ri, $line);
echo "php --ri: ", shown($line[0]), "\n";
$shown .= $info . $ri;
echo "password shown: ", var_export(str_contains($shown, $password), true), ", AppSecret shown: ", var_export(str_contains($shown, $secret), true), "\n";
echo proxy_log($guarded);
$guardedBefore = proxy_counts($guarded);

echo "--- a proxy that cannot be reached\n";
ini_set('weixin.proxy', "http://bob:$password@127.0.0.1:1");
foreach ([$api, $tls] as $base) {
    ini_set('weixin.api_base_url', $base);
    try {
        new class_weixin(test_appid('proxy'), $secret);
    } catch (WeixinException $e) {
        $text = $e->getMessage() . $e->getTraceAsString();
        echo "names the proxy: ", var_export(str_contains($text, ' through the proxy http://127.0.0.1:1 (weixin.proxy) failed: '), true),
            ", password shown: ", var_export(str_contains($text, $password), true), ", AppSecret shown: ", var_export(str_contains($text, $secret), true), "\n";
    }
}

echo "--- bad values\n";
ini_set('weixin.api_base_url', $tls);
foreach (['127.0.0.1:3128', 'socks5://127.0.0.1:1080', 'http://127.0.0.1:3128/path', 'http://127.0.0.1:3128/?x=1',
    "http://bob:$password@127.0.0.1:3128/#top", "http://bob:$password@"] as $bad) {
    ini_set('weixin.proxy', $bad);
    try {
        new class_weixin(test_appid('proxy'), $secret);
        echo "accepted: $bad\n";
    } catch (WeixinException $e) {
        echo $e->getMessage(), "\n";
    }
}
var_dump(@$w->call("$tls/__echo/never"));
echo error_get_last()['message'], "\n";

echo "--- plain HTTP to the API through a proxy elsewhere (192.0.2.1: TEST-NET-1, never routed)\n";
ini_set('weixin.api_base_url', $api);
ini_set('weixin.proxy', 'http://192.0.2.1:3128');
try {
    new class_weixin(test_appid('proxy'), $secret);
    echo "accepted\n";
} catch (WeixinException $e) {
    echo shown($e->getMessage()), "\n";
}
ini_set('weixin.proxy', '');
echo "without the proxy: ", fetch_token($api, $secret), "\n";
echo "the proxies saw nothing more: ", var_export(proxy_counts($open) === $before && proxy_counts($guarded) === $guardedBefore, true), "\n";
stop_forward_proxy($open);
stop_forward_proxy($guarded);
?>
--EXPECTF--
--- through an open proxy
plain HTTP token: current, stand-in token calls: 1
HTTPS token: current, stand-in token calls: 1
http_request: /__echo/plain, via: 1.1 forward_proxy
http_request: /__echo/tunneled, via: nothing
forwarded GET API/cgi-bin/token
tunnels CONNECT TLS
forwarded GET API/__echo/plain
--- proxies in the environment, weixin.proxy empty
{"environment":"http:\/\/PROXY http:\/\/PROXY","cgi":false,"setting":"","token":128,"http_request":"\/__echo\/direct","via":"nothing"}, stand-in token calls: 1
{"environment":"http:\/\/PROXY http:\/\/PROXY","cgi":false,"setting":"","token":128,"http_request":"\/__echo\/direct","via":"nothing"}, stand-in token calls: 1
the proxy saw nothing more: true
--- a proxy that wants a password
plain HTTP token: current, stand-in token calls: 1
HTTPS token: current, stand-in token calls: 1
refused (code 0): WeChat token request failed: the proxy http://GUARDED (weixin.proxy) answered HTTP status 407: it wants a user and password, or refused those of weixin.proxy
refused (code 0): request to https://TLS/cgi-bin/token through the proxy http://GUARDED (weixin.proxy) failed: %s(the proxy answered 407: it wants a user and password, or refused those of weixin.proxy)
warning: class_weixin::http_request(): request to https://TLS/__echo/tunneled through the proxy http://GUARDED (weixin.proxy) failed: %s(the proxy answered 407: it wants a user and password, or refused those of weixin.proxy)
bool(false)
phpinfo: weixin.proxy => http://bob:********@GUARDED => no value
php --ri: weixin.proxy => http://bob:********@GUARDED => http://bob:********@GUARDED
password shown: false, AppSecret shown: false
forwarded GET API/cgi-bin/token
tunnels CONNECT TLS
refused GET API/cgi-bin/token
refused CONNECT TLS
--- a proxy that cannot be reached
names the proxy: true, password shown: false, AppSecret shown: false
names the proxy: true, password shown: false, AppSecret shown: false
--- bad values
weixin.proxy: must be the URL of an HTTP proxy, http://host:port or https://host:port: relative URL without a base, got '127.0.0.1:3128'
weixin.proxy: must start with http:// or https:// (an HTTP proxy; SOCKS is not supported), got 'socks5://127.0.0.1:1080'
weixin.proxy: no path allowed (http://host:port), got 'http://127.0.0.1:3128/path'
weixin.proxy: no query (?) or fragment (#) allowed, got 'http://127.0.0.1:3128/?x=1'
weixin.proxy: no query (?) or fragment (#) allowed, got 'http://********@127.0.0.1:3128/#top'
weixin.proxy: must be the URL of an HTTP proxy, http://host:port or https://host:port: empty host, got 'http://********@'
bool(false)
class_weixin::http_request(): weixin.proxy: must be the URL of an HTTP proxy, http://host:port or https://host:port: empty host, got 'http://********@'
--- plain HTTP to the API through a proxy elsewhere (192.0.2.1: TEST-NET-1, never routed)
weixin.proxy: the proxy http://192.0.2.1:3128 is not on this machine and weixin.api_base_url 'http://API' is plain http://: the token request carries the AppSecret and would reach the proxy in clear; use an https:// weixin.api_base_url or a proxy on this machine
without the proxy: current, stand-in token calls: 1
the proxies saw nothing more: true
