--TEST--
memcached on a unix socket (unix:///path, as PECL memcache writes it): one token request for 10 processes, shared with the PECL memcache client; a relative path is refused naming the setting
--SKIPIF--
<?php
if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind');
if (!class_exists('Memcache')) die('skip PECL memcache not installed (interop only)');
?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';

$dir = sys_get_temp_dir() . '/wxsock' . bin2hex(random_bytes(4));
mkdir($dir, 0700);
$socket = "$dir/memcached.sock";
$user = function_exists('posix_getuid') && posix_getuid() === 0 ? ['-u', 'root'] : [];
$memcached = proc_open(['memcached', '-s', $socket, '-a', '0700', ...$user],
    [1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
echo "memcached listens: ", wait_for(fn() => file_exists($socket)) ? 'yes' : 'no', "\n";

$server = "unix://$socket";
$appid = test_appid('unixsock');
reset_account($appid);
$results = run_parallel(10, 'echo (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;',
    ['weixin.memcache_servers' => $server, 'weixin.cache_key' => 'sock_{appid}'], ['APPID' => $appid]);
$tokens = array_unique(array_column($results, 'out'));
$errors = array_filter(array_map(fn($r) => trim($r['err']), $results));
echo count($tokens), " token, ", stats($appid)['token_calls'], " token request, warnings: ", $errors ? implode(' | ', array_unique($errors)) : 'none', "\n";
echo "the PECL client reads it: ", pecl_memcache([$server])->get("sock_$appid") === reset($tokens) ? 'yes' : 'no', "\n";

ini_set('weixin.memcache_servers', 'unix://relative.sock');
try {
    new class_weixin($appid, TEST_SECRET);
} catch (WeixinException $e) {
    echo $e->getMessage(), "\n";
}

proc_terminate($memcached, 9);
proc_close($memcached);
@unlink($socket);
rmdir($dir);
?>
--EXPECT--
memcached listens: yes
1 token, 1 token request, warnings: none
the PECL client reads it: yes
weixin.memcache_servers: 'unix://relative.sock' is not host:port or unix:///path
