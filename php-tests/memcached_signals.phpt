--TEST--
Signals at a high rate (pcntl handlers) during memcached round trips: no warning, no server skipped, one token, one upstream call
--SKIPIF--
<?php
if (!function_exists('pcntl_async_signals')) die('skip pcntl needed');
if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs thousands of round trips: not under valgrind');
?>
--INI--
weixin.cache_key=signals_{appid}
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';

function counters(): array
{
    ob_start();
    phpinfo(INFO_MODULES);
    preg_match_all('/^(memcached hits|upstream calls|lock waits) => (\d+)$/m', ob_get_clean(), $m);
    return array_combine($m[1], array_map('intval', $m[2]));
}

// Each reply held back 1 ms: nearly every signal lands while the extension
// is blocked reading from memcached (EINTR).
$faults = __DIR__ . '/memcached_faults.py';
$proxy = proc_open(['python3', $faults, 'proxy', '--to', getenv('WEIXIN_TEST_MEMCACHED'), '--delay', '0.001'],
    [0 => ['pipe', 'r'], 1 => ['pipe', 'w']], $proxy_pipes);
ini_set('weixin.memcache_servers', '127.0.0.1:' . trim(fgets($proxy_pipes[1])));

$appid = test_appid('signals');
reset_account($appid);
$warnings = [];
set_error_handler(function ($no, $message) use (&$warnings) { $warnings[] = $message; return true; });
$token = (new class_weixin($appid, TEST_SECRET))->access_token;

pcntl_async_signals(true);
$handled = 0;
pcntl_signal(SIGUSR1, function () use (&$handled) { $handled++; });
$sender = proc_open(['python3', $faults, 'signal', (string) getmypid(), 'SIGUSR1'],
    [0 => ['pipe', 'r'], 1 => ['pipe', 'w']], $sender_pipes);
fgets($sender_pipes[1]); // "started"

$hits = counters()['memcached hits'];
$constructions = $same = 0;
while (($constructions < 2000 || $handled < 500) && $constructions < 100000) {
    $constructions++;
    if ((new class_weixin($appid, TEST_SECRET))->access_token === $token) $same++;
}
fclose($sender_pipes[0]); // the sender stops
$sent = (int) substr(trim(stream_get_contents($sender_pipes[1])), 5);
proc_close($sender);
proc_terminate($proxy);
proc_close($proxy);

echo "every construction served the token: ", $same === $constructions ? 'yes' : "no ($same of $constructions)", "\n";
echo "every construction read memcached: ", counters()['memcached hits'] - $hits === $constructions ? 'yes' : 'no', "\n";
echo "signals handled during the run: ", $handled >= 500 ? 'at least 500' : "only $handled", "\n";
report("memcached_signals: $constructions constructions, $sent signals sent, $handled handled");
echo "warnings: ", count($warnings), "\n";
foreach (array_unique($warnings) as $warning) echo "  $warning\n";
echo "upstream calls: ", counters()['upstream calls'], " (stand-in: ", stats($appid)['token_calls'], ")\n";
echo "lock waits: ", counters()['lock waits'], "\n";
?>
--EXPECT--
every construction served the token: yes
every construction read memcached: yes
signals handled during the run: at least 500
warnings: 0
upstream calls: 1 (stand-in: 1)
lock waits: 0
