--TEST--
The process fetching the token is killed (SIGKILL) mid-fetch: a waiting process takes over once the lock lapses
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--INI--
weixin.cache_key=killed_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('killed');
reset_account($appid, ['delay_ms' => 1500]);
$ini = ['weixin.cache_key' => 'killed_{appid}', 'weixin.token_timeout' => '2'];
$code = '$t = microtime(true); echo (new class_weixin($argv[2], TEST_SECRET))->access_token, " ", round(microtime(true) - $t, 1);';
$script = tempnam(sys_get_temp_dir(), 'wxkill');
file_put_contents($script, "<?php require " . var_export(__DIR__ . '/helpers.inc', true) . "; $code");

// The winner: takes the lock and waits on the slow upstream.
$winner = proc_open([...php_command($ini), $script, '0', $appid], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
for ($i = 0; $i < 100 && stats($appid)['in_flight'] < 1; $i++) usleep(20000);
echo "winner is fetching: ", stats($appid)['in_flight'], "\n";

// A second process finds the lock taken and waits.
$waiter = proc_open([...php_command($ini), $script, '1', $appid], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $waiterPipes);
usleep(300000);
proc_terminate($winner, 9);
proc_close($winner);
echo "winner killed\n";
standin('/__admin/configure', ['appid' => $appid, 'delay_ms' => 0]);

[$token, $seconds] = explode(' ', stream_get_contents($waiterPipes[1]) ?: '- -');
echo stream_get_contents($waiterPipes[2]);
proc_close($waiter);
unlink($script);
echo "waiter got a current token: ", token_is_current($token) ? 'yes' : 'no', "\n";
// The lock lives 4 s (token timeout 2 s + 2): the waiter finished after it lapsed, well before giving up.
echo "waited for the lock to lapse: ", ($seconds >= 2.5 && $seconds < 6.5) ? 'yes' : "no ($seconds s)", "\n";
echo "cached: ", legacy_memcache()->get("killed_$appid") === $token ? 'yes' : 'no', "\n";
?>
--EXPECT--
winner is fetching: 1
winner killed
waiter got a current token: yes
waited for the lock to lapse: yes
cached: yes
