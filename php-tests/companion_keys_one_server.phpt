--TEST--
Three memcached servers: KEY:meta and KEY:lock live on the server that holds KEY (where PECL memcache puts KEY), not where the ring would put their own names; with the server their names map to stopped, 4 fresh processes make one upstream call and share one current token
--SKIPIF--
<?php
if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind');
if (!class_exists('Memcache')) die('skip PECL memcache not installed (interop only)');
?>
--INI--
memcache.hash_strategy=consistent
memcache.hash_function=crc32
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$servers = [fleet_start_memcached(), fleet_start_memcached(), fleet_start_memcached()];
// Whatever happens, every server runs again and is stopped at the end.
register_shutdown_function(function () use ($servers) {
    foreach ($servers as [$process]) if (is_resource($process)) { fleet_signal_memcached($process, false); stop_memcached($process); }
});
$ports = array_column($servers, 1);
$list = implode(',', array_map(fn ($p) => "127.0.0.1:$p", $ports));
// Legacy code's client for the same list: where it puts a key is the reference.
$pecl = new Memcache();
foreach ($ports as $port) @$pecl->addServer('127.0.0.1', $port); // @: PECL memcache's own 8.2 deprecation

/** Which server (index into $ports) PECL memcache puts $key on. */
function pecl_server(Memcache $pecl, array $ports, string $key): ?int
{
    $pecl->set($key, 'probe', 0, 60);
    $found = null;
    foreach ($ports as $n => $port) {
        if (fleet_get($port, $key) === 'probe') $found = $n;
    }
    $pecl->delete($key);
    return $found;
}

foreach ([':meta', ':lock'] as $suffix) {
    // A cache key whose companion's own name lands on another server than KEY.
    $appid = test_appid('companion');
    reset_account($appid);
    for ($n = 0; $n < 200; $n++) {
        $key = "companion_{$n}_$appid";
        $home = pecl_server($pecl, $ports, $key);
        $elsewhere = pecl_server($pecl, $ports, $key . $suffix);
        if ($home !== null && $elsewhere !== null && $home !== $elsewhere) break;
    }
    echo "KEY$suffix's own name maps to another server than KEY: ", $home !== $elsewhere ? 'yes' : 'no', "\n";

    // That other server stops answering (it still accepts connections).
    fleet_signal_memcached($servers[$elsewhere][0], true);
    $results = run_parallel(4, 'echo (new class_weixin(getenv("APPID"), TEST_SECRET))->access_token;',
        ['weixin.memcache_servers' => $list, 'weixin.cache_key' => "companion_{$n}_{appid}", 'weixin.local_cache_ttl' => '0'],
        ['APPID' => $appid]);
    $tokens = array_unique(array_column($results, 'out'));
    $token = reset($tokens);
    $failed = array_filter($results, fn ($r) => $r['status'] !== 0 || $r['out'] === '');
    $s = stats($appid);
    $meta = (string) fleet_get($ports[$home], "$key:meta");
    echo "  server of KEY$suffix's name stopped, 4 processes: failed ", count($failed), ", distinct tokens ", count($tokens),
        ", current: ", token_is_current($token) ? 'yes' : 'no', ", upstream calls: ", $s['token_calls'] + $s['stable_calls'], "\n";
    echo "  on KEY's server: KEY holds the token: ", fleet_get($ports[$home], $key) === $token ? 'yes' : 'no',
        ", KEY:meta describes it: ", str_starts_with($meta, 'v3 ') && str_ends_with($meta, " $token") ? 'yes' : 'no', "\n";
    echo "  legacy code reads it: ", $pecl->get($key) === $token ? 'yes' : 'no', "\n";
    fleet_signal_memcached($servers[$elsewhere][0], false);
}
?>
--EXPECT--
KEY:meta's own name maps to another server than KEY: yes
  server of KEY:meta's name stopped, 4 processes: failed 0, distinct tokens 1, current: yes, upstream calls: 1
  on KEY's server: KEY holds the token: yes, KEY:meta describes it: yes
  legacy code reads it: yes
KEY:lock's own name maps to another server than KEY: yes
  server of KEY:lock's name stopped, 4 processes: failed 0, distinct tokens 1, current: yes, upstream calls: 1
  on KEY's server: KEY holds the token: yes, KEY:meta describes it: yes
  legacy code reads it: yes
