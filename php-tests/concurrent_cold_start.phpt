--TEST--
40 processes start at once on a cold cache against a slow WeChat (300 ms): one upstream call, one token for all, none fails
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('cold');
reset_account($appid, ['delay_ms' => 300]);

$started = microtime(true);
$results = run_parallel(40, 'echo (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;',
    ['weixin.cache_key' => 'cold_{appid}'], ['APPID' => $appid]);

$tokens = array_unique(array_column($results, 'out'));
$failed = array_filter($results, fn ($r) => $r['status'] !== 0 || $r['err'] !== '' || $r['out'] === '');
$stats = stats($appid);
echo "processes: ", count($results), "\n";
echo "failed: ", count($failed), "\n";
echo "distinct tokens: ", count($tokens), "\n";
echo "upstream calls: ", $stats['token_calls'], "\n";
echo "concurrent upstream requests at most: ", $stats['in_flight_max'], "\n";
echo "the token is current: ", token_is_current(reset($tokens)) ? 'yes' : 'no', "\n";
foreach ($failed as $f) echo $f['err'], $f['out'], "\n";
?>
--EXPECT--
processes: 40
failed: 0
distinct tokens: 1
upstream calls: 1
concurrent upstream requests at most: 1
the token is current: yes
