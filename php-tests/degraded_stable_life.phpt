--TEST--
memcached unreachable across stable tokens' ends of life: two daemons see no exception and serve no dead token (WeChat gives the same stable token with the life it has left, a new one once it died); 30 workers started one after another on one machine share one stable token per life (a file only the PHP user can read, no secret in it)
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs for 24 s across token lives: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';

// Nothing listens there: every lookup is degraded.
$ini = ['weixin.memcache_servers' => '127.0.0.1:' . free_port(), 'weixin.cache_key' => 'life_{appid}',
    'weixin.refresh_margin' => '3', 'display_errors' => '0'];

// Two daemons construct every 50 ms for 24 s: two ends of 10-s lives.
$appid = test_appid('stablelife');
reset_account($appid, ['expires_in' => 10]);
$results = run_parallel(2, '
    $constructions = $exceptions = $dead = 0; $tokens = [];
    while (microtime(true) < (float) getenv("START_AT") + 24) {
        try {
            $token = (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;
            $constructions++;
            $tokens[$token] = 1;
            if (!token_is_current($token)) $dead++;
        } catch (WeixinException $e) {
            $exceptions++;
        }
        usleep(50000);
    }
    echo json_encode(["constructions" => $constructions, "exceptions" => $exceptions, "dead" => $dead, "tokens" => count($tokens)]);',
    $ini, ['APPID' => $appid], 90);
foreach ($results as $i => $r) {
    $d = json_decode($r['out'], true);
    if (!$d) { echo "daemon $i failed: ", $r['err'], $r['out'], "\n"; continue; }
    echo "daemon $i: exceptions {$d['exceptions']}, dead tokens served {$d['dead']}, constructions ",
        $d['constructions'] > 200 ? 'over 200' : $d['constructions'], ", tokens ", $d['tokens'] >= 3 ? '3 or more' : $d['tokens'], "\n";
}
$stats = stats($appid);
echo "plain token requests: {$stats['token_calls']}, forced: {$stats['force_refresh_calls']}\n";

// 30 workers of a pool, recycled one after another, within one token life.
$appid = test_appid('recycled');
reset_account($appid, ['expires_in' => 7200]);
$served = [];
for ($i = 0; $i < 30; $i++) {
    $r = run_parallel(1, 'echo (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;', $ini, ['APPID' => $appid]);
    $served[$r[0]['out']] = 1;
}
$stats = stats($appid);
echo "30 recycled workers: tokens ", count($served), ", stable token requests ", $stats['stable_calls'], "\n";
$dir = '/dev/shm/weixin-' . posix_getuid();
$files = glob("$dir/*");
echo "shared: directory ", sprintf('%o', fileperms($dir) & 0777), ", files ", implode(',', array_unique(array_map(fn($f) => sprintf('%o', fileperms($f) & 0777), $files))),
    ", secret in them: ", array_filter($files, fn($f) => str_contains(file_get_contents($f), TEST_SECRET)) ? 'yes' : 'no', "\n";
?>
--EXPECT--
daemon 0: exceptions 0, dead tokens served 0, constructions over 200, tokens 3 or more
daemon 1: exceptions 0, dead tokens served 0, constructions over 200, tokens 3 or more
plain token requests: 0, forced: 0
30 recycled workers: tokens 1, stable token requests 1
shared: directory 700, files 600, secret in them: no
