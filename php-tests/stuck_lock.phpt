--TEST--
A stuck fetch lock (its value unchanged past its declared hold, whatever its TTL in memcached) is taken over with a compare-and-swap, over meta commands and over classic ones (a memcached 1.4/1.5): one upstream call, nobody waits longer than the hold plus one token request
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--INI--
weixin.cache_key=stuck_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
// token_timeout=1: a process's own hold is ceil(1) + 2 = 3 s. (weixin.timeout=1
// only keeps the old code's give-up short.)
$ini = ['weixin.cache_key' => 'stuck_{appid}', 'weixin.token_timeout' => '1', 'weixin.timeout' => '1'];

/** $count processes construct at once (through $server if given) while $lock sits under KEY:lock with TTL 3600. */
function stuck(string $label, string $lock, int $count, ?string $server = null): void
{
    global $ini;
    $ini_here = $server === null ? $ini : ['weixin.memcache_servers' => $server] + $ini;
    $appid = test_appid('stuck');
    $key = "stuck_$appid";
    reset_account($appid);
    forget_token($key);
    echo "$label: lock planted: ", put_raw("$key:lock", $lock, 3600) && memcached_ttl("$key:lock") > 3000 ? 'yes' : 'no', "\n";
    $results = run_parallel($count, 'echo json_encode(construct_once(getenv("APPID")));', $ini_here, ['APPID' => $appid]);
    $tokens = [];
    $served = 0;
    $slow = [];
    foreach ($results as $r) {
        $got = json_decode($r['out'], true);
        // Taken over once unchanged for the 3 s hold, fetched within
        // token_timeout (1 s): never later than 4 s, plus start-up.
        if (!isset($got['seconds']) || $got['seconds'] < 2.5 || $got['seconds'] > 5.5) {
            $slow[] = $got['seconds'] ?? '?';
        }
        if (!isset($got['token'])) {
            echo "  failed: ", $got['message'] ?? without_retry_words($r['err'] . $r['out']), "\n";
            continue;
        }
        $served++;
        $tokens[$got['token']] = 1;
    }
    $token = array_key_first($tokens);
    echo "  processes with a token: $served of $count\n";
    echo "  one token, current: ", count($tokens) === 1 && token_is_current($token) ? 'yes' : 'no (' . count($tokens) . ')', "\n";
    echo "  upstream calls: ", stats($appid)['token_calls'], "\n";
    echo "  waited about the hold (2.5 to 5.5 s): ", $slow ? 'no: ' . implode(' ', $slow) . ' s' : 'yes', "\n";
    echo "  cached: ", $token !== null && get_raw($key) === $token ? 'yes' : 'no', "\n";
    echo "  stuck value gone: ", get_raw("$key:lock") !== $lock ? 'yes' : 'no', "\n";
    forget_token($key);
    reset_account($appid);
}

stuck('wx2 fetch, one process', 'wx2 fetch 3 stuck-host:1:1:0', 1);
stuck('wx2 fetch, four processes', 'wx2 fetch 3 stuck-host:1:1:0', 4);
stuck('old format, three processes', 'fetching oldhost:123:1700000000000000000:0', 3);
// gets and cas instead of mg and ms C: the same takeover.
[$old, $old_port, $refusals] = start_old_memcached(test_memcached_port());
stuck('classic commands, four processes', 'wx2 fetch 3 stuck-host:1:1:0', 4, "127.0.0.1:$old_port");
echo "  meta commands refused: ", old_memcached_refused($refusals) === 4 ? 'one probe per process' : old_memcached_refused($refusals), "\n";
proc_terminate($old);
proc_close($old);
?>
--EXPECT--
wx2 fetch, one process: lock planted: yes
  processes with a token: 1 of 1
  one token, current: yes
  upstream calls: 1
  waited about the hold (2.5 to 5.5 s): yes
  cached: yes
  stuck value gone: yes
wx2 fetch, four processes: lock planted: yes
  processes with a token: 4 of 4
  one token, current: yes
  upstream calls: 1
  waited about the hold (2.5 to 5.5 s): yes
  cached: yes
  stuck value gone: yes
old format, three processes: lock planted: yes
  processes with a token: 3 of 3
  one token, current: yes
  upstream calls: 1
  waited about the hold (2.5 to 5.5 s): yes
  cached: yes
  stuck value gone: yes
classic commands, four processes: lock planted: yes
  processes with a token: 4 of 4
  one token, current: yes
  upstream calls: 1
  waited about the hold (2.5 to 5.5 s): yes
  cached: yes
  stuck value gone: yes
  meta commands refused: one probe per process
