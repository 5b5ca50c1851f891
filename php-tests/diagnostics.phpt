--TEST--
Diagnostics: configuration, memcached and WeChat failures say what failed and what to check
--INI--
weixin.cache_key=diag_{appid}
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('diag');
reset_account($appid);

function explain(array $ini): void
{
    global $appid;
    $saved = [];
    foreach ($ini as $name => $value) { $saved[$name] = ini_get($name); ini_set($name, $value); }
    set_error_handler(function ($no, $message) { echo "  warning: ", preg_replace('/:\d{2,5}\b/', ':PORT', $message), "\n"; return true; });
    try {
        new class_weixin($appid, TEST_SECRET);
        echo "  no exception\n";
    } catch (WeixinException $e) {
        echo "  exception: ", preg_replace('/:\d{2,5}\b/', ':PORT', $e->getMessage()), "\n";
    }
    restore_error_handler();
    foreach ($saved as $name => $value) ini_set($name, $value);
}

echo "a timeout that is not a number:\n";
explain(['weixin.timeout' => 'five']);
echo "a server list with a typo:\n";
explain(['weixin.memcache_servers' => 'cache1 11211']);
echo "an API base that is not a URL:\n";
explain(['weixin.api_base_url' => 'api.weixin.qq.com']);
echo "plain HTTP to another machine (the token request carries the secret):\n";
explain(['weixin.api_base_url' => 'http://api.weixin.qq.com']);
echo "a key too long for memcached:\n";
explain(['weixin.cache_key' => str_repeat('k', 240)]);
echo "a server that refuses every command (not memcached):\n";
// A fake server that answers every command with ERROR: memcached 1.4 does so
// to meta commands only (memcached_classic.phpt).
// It ends by itself once the extension has given up on its connection, so
// that it exits cleanly.
$old = proc_open([PHP_BINARY, '-n', '-r', '$s = stream_socket_server("tcp://127.0.0.1:0"); echo stream_socket_get_name($s, false), "\n";
    if ($c = stream_socket_accept($s, 30)) { while (($l = fgets($c)) !== false) fwrite($c, "ERROR\r\n"); }'],
    [1 => ['pipe', 'w']], $pipes);
$address = trim(fgets($pipes[1]));
explain(['weixin.memcache_servers' => $address]);
for ($i = 0; $i < 100 && proc_get_status($old)['running']; $i++) usleep(50000);
proc_close($old);
echo "WeChat unreachable:\n";
reset_account($appid = test_appid('diag'));
explain(['weixin.api_base_url' => 'http://127.0.0.1:1']);
?>
--EXPECTF--
a timeout that is not a number:
  exception: weixin.timeout must be a number of seconds in (0, 3600], got 'five'
a server list with a typo:
  exception: weixin.memcache_servers: 'cache1 11211' is not host:port or unix:///path
an API base that is not a URL:
  exception: weixin.api_base_url: must be an https:// URL (or http:// for a local stand-in): relative URL without a base, got 'api.weixin.qq.com'
plain HTTP to another machine (the token request carries the secret):
  exception: weixin.api_base_url: must be https:// (plain http:// only to this machine, for a local stand-in): the token request carries the AppSecret, got 'http://api.weixin.qq.com'
a key too long for memcached:
  exception: the memcached key is 240 bytes after escaping, over the 238 allowed: shorten weixin.cache_key
a server that refuses every command (not memcached):
  warning: class_weixin::__construct(): memcached at 127.0.0.1:PORT failed: it answered 'ERROR' (the server refused a command every memcached takes)
  no exception
WeChat unreachable:
  exception: request to http://127.0.0.1:1/cgi-bin/token failed: %s (check weixin.api_base_url and this server's network)
