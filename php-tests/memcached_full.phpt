--TEST--
A full memcached (-M: SERVER_ERROR instead of evictions, every slab class filled): processes on a cold key still agree on one current token (the degraded, non-forced stable one), later ones too, each with at most one warning, naming memcached
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';
// 1 MB, no evictions, two slab classes (552 and 2048 bytes): memcached gives
// each class one page even past -m, and stores nothing more once both are full.
[$memcached, $port] = fleet_start_memcached(['-m', '1', '-M', '-n', '500', '-f', '2', '-I', '2k', '-o', memcached_slab_chunk_max(2)]);
register_shutdown_function(function () use ($memcached) { if (is_resource($memcached)) stop_memcached($memcached); });
$stored = fleet_fill_memcached($port, [400, 1500, 400, 1500]);
$refused = 0;
foreach ([1, 40, 130, 200, 300, 500, 1000] as $size) {
    foreach (['S', 'E'] as $mode) { // set, add
        if (str_starts_with(fleet_set($port, "probe_{$size}_$mode", str_repeat('p', $size), 60, $mode), 'SERVER_ERROR out of memory')) $refused++;
    }
}
echo "memcached full: junk stored: ", $stored > 1000 ? 'yes' : $stored, ", set and add of 1 to 1000 bytes refused (SERVER_ERROR out of memory): ",
    $refused === 14 ? 'all' : "$refused of 14", ", reads still answered: ", fleet_get($port, 'junk_0_0') === str_repeat('j', 400) ? 'yes' : 'no', "\n";

$appid = test_appid('full');
reset_account($appid);
$ini = ['weixin.memcache_servers' => "127.0.0.1:$port", 'weixin.cache_key' => 'full_{appid}'];
$code = 'echo (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;';
/** Tokens, failures and messages of the processes (their stderr: display_errors=stderr). */
$report = function (array $results): array {
    $most = $others = 0;
    foreach ($results as $r) {
        $lines = array_filter(explode("\n", trim($r['err'])), 'strlen');
        $warnings = array_filter($lines, fn ($l) => str_contains($l, 'Warning:') && stripos($l, 'memcached') !== false);
        $most = max($most, count($warnings));
        $others += count($lines) - count($warnings);
    }
    $failed = count(array_filter($results, fn ($r) => $r['status'] !== 0 || $r['out'] === ''));
    return [array_unique(array_column($results, 'out')), $failed,
        'warnings naming memcached per process at most ' . ($most <= 1 ? 'one' : $most) . ", other messages: $others"];
};

[$tokens, $failed, $warned] = $report(run_parallel(6, $code, $ini, ['APPID' => $appid]));
$token = reset($tokens);
$s = stats($appid);
echo "6 processes at once: failed $failed, distinct tokens ", count($tokens), ", current: ", token_is_current($token) ? 'yes' : 'no', ", $warned\n";
echo "  plain token calls at most 1: ", $s['token_calls'] <= 1 ? 'yes' : "no ({$s['token_calls']})", ", forced: {$s['force_refresh_calls']}\n";

[$later, $failed, $warned] = $report(run_parallel(3, $code, $ini, ['APPID' => $appid]));
$s = stats($appid);
echo "3 more processes: failed $failed, the same token: ", $later === [$token] ? 'yes' : 'no', ", still current: ", token_is_current($token) ? 'yes' : 'no', ", $warned\n";
echo "  plain token calls at most 1: ", $s['token_calls'] <= 1 ? 'yes' : "no ({$s['token_calls']})", ", forced: {$s['force_refresh_calls']}\n";
?>
--EXPECT--
memcached full: junk stored: yes, set and add of 1 to 1000 bytes refused (SERVER_ERROR out of memory): all, reads still answered: yes
6 processes at once: failed 0, distinct tokens 1, current: yes, warnings naming memcached per process at most one, other messages: 0
  plain token calls at most 1: yes, forced: 0
3 more processes: failed 0, the same token: yes, still current: yes, warnings naming memcached per process at most one, other messages: 0
  plain token calls at most 1: yes, forced: 0
