--TEST--
ZTS, real threads: pcntl_fork() while other threads of the process use the extension (its memcached connections, its token slots): every child constructs class_weixin and gets the token; none is stuck on a lock that a thread held at the fork
--SKIPIF--
<?php
require __DIR__ . '/zts/harness.inc';
if ($why = zts_unavailable()) die("skip $why");
if (!function_exists('pcntl_fork') || !function_exists('posix_kill')) die('skip needs pcntl and posix');
?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';
require __DIR__ . '/zts/harness.inc';

const THREADS = 8;
const FORKS = 150;

$harness = zts_build_harness();
$appid = test_appid('ztsfork');
reset_account($appid);
$done = tempnam(sys_get_temp_dir(), 'wxfork');
unlink($done);
// Threads that read memcached on every construction (its connections'
// lock) and threads served from the process's token slot (its lock).
$run = zts_run($harness, THREADS, 1,
    ['ZTS_APPID' => $appid, 'ZTS_SECRET' => TEST_SECRET, 'ZTS_FORKS' => (string) FORKS, 'ZTS_DONE_FILE' => $done],
    ['weixin.cache_key' => 'ztsfork_{appid}'], ['weixin.local_cache_ttl' => ['0', '0', '60', '0', '60']],
    __DIR__ . '/zts/fork.php');
@unlink($done);
echo "exit status: {$run['status']}\n";
echo $run['summary'], "\n";
$lines = [];
foreach ($run['threads'] as $thread => $requests) {
    foreach ($requests[0]['other'] ?? [] as $line) {
        $lines[$thread === 0 ? 'forker' : 'busy'][] = $line;
    }
}
echo 'forking thread: ', implode(' | ', $lines['forker'] ?? []), "\n";
$busy = array_count_values($lines['busy'] ?? []);
echo 'busy threads: ', json_encode($busy), "\n";
echo 'stderr: ', trim($run['err']) === '' ? 'empty' : trim($run['err']), "\n";
echo 'upstream calls: ', stats($appid)['token_calls'], "\n";
zts_remove_harness($harness);
?>
--EXPECT--
exit status: 0
harness: 8 threads x 1 requests: 8 ran, 0 failed
forking thread: forks 150 answered 150 hung 0 other 0
busy threads: {"busy errors 0":7}
stderr: empty
upstream calls: 1
