--TEST--
Three memcached servers shared with the PECL memcached client (new Memcached, default options): with weixin.memcache_distribution=memcached a token it cached is used without a token request and one the extension caches is read by it (same server, companion keys beside it), also with a unix socket in the list (its addServer('/path', 0) is unix:///path, in the same place); with the default (memcache) some are missed both ways
--SKIPIF--
<?php
if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind');
if (!class_exists('Memcached')) die('skip PECL memcached not installed (interop only)');
?>
--INI--
weixin.cache_key=interop_{appid}
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$servers = [fleet_start_memcached(), fleet_start_memcached(), fleet_start_memcached()];
$socket = start_memcached_socket();
register_shutdown_function(function () use ($servers, $socket) {
    foreach ($servers as [$process]) stop_memcached($process);
    stop_memcached_socket($socket);
});
$tcp = array_map(fn ($server) => "127.0.0.1:{$server[1]}", $servers);

$legacy = new Memcached();
echo "PECL memcached's defaults: ",
    $legacy->getOption(Memcached::OPT_DISTRIBUTION) === Memcached::DISTRIBUTION_MODULA ? 'modula' : 'other',
    ', ', $legacy->getOption(Memcached::OPT_HASH) === Memcached::HASH_DEFAULT ? 'default hash' : 'other hash', "\n";

/** Which server (index into $list) holds $key, asked of each server alone. */
function holder(string $key, array $list): ?int
{
    foreach ($list as $n => $server) {
        if (pecl_memcached([$server])->get($key) !== false) return $n;
    }
    return null;
}

/**
 * Legacy code (PECL memcached over $list) and the extension (the same list)
 * each cache tokens for fresh AppIDs; what each finds of the other's.
 */
function share(array $list): void
{
    ini_set('weixin.memcache_servers', implode(',', $list));
    $legacy = pecl_memcached($list);
    $counts = ['legacy -> extension' => 0, 'no token request' => 0, 'extension -> legacy' => 0, 'companions beside it' => 0];
    $used = [];
    // At least 12 keys, and more until every server holds one (where a key
    // lands depends on the random AppIDs).
    for ($i = 0; $i < 12 || (count($used) < count($list) && $i < 200); $i++) {
        $appid = test_appid("legacy$i");
        reset_account($appid);
        $legacy->set("interop_$appid", "LEGACY_TOKEN_$i", 600);
        if ((new class_weixin($appid, TEST_SECRET))->access_token === "LEGACY_TOKEN_$i") $counts['legacy -> extension']++;
        if (stats($appid)['token_calls'] === 0) $counts['no token request']++;

        $appid = test_appid("ext$i");
        reset_account($appid);
        $token = (new class_weixin($appid, TEST_SECRET))->access_token;
        if ($legacy->get("interop_$appid") === $token) $counts['extension -> legacy']++;
        $at = holder("interop_$appid", $list);
        if ($at !== null && holder("interop_$appid:meta", $list) === $at) $counts['companions beside it']++;
        if ($at !== null) $used[$at] = true;
    }
    foreach ($counts as $what => $count) {
        echo "$what: ", $count === $i ? 'all' : 'some missed', "\n";
    }
    echo "servers used: ", count($used), " of ", count($list), "\n";
}

ini_set('weixin.memcache_distribution', 'memcached');
echo "== weixin.memcache_distribution=memcached, three TCP servers\n";
share($tcp);
echo "== the same, the second server a unix socket\n";
share([$tcp[0], $socket[1], $tcp[2]]);

// The code before this setting knew only PECL memcache's ring: keys that
// PECL memcached placed elsewhere are missed, and fetched again.
ini_restore('weixin.memcache_distribution');
echo "== the default (", ini_get('weixin.memcache_distribution'), "), three TCP servers\n";
share($tcp);
?>
--EXPECT--
PECL memcached's defaults: modula, default hash
== weixin.memcache_distribution=memcached, three TCP servers
legacy -> extension: all
no token request: all
extension -> legacy: all
companions beside it: all
servers used: 3 of 3
== the same, the second server a unix socket
legacy -> extension: all
no token request: all
extension -> legacy: all
companions beside it: all
servers used: 3 of 3
== the default (memcache), three TCP servers
legacy -> extension: some missed
no token request: some missed
extension -> legacy: some missed
companions beside it: all
servers used: 3 of 3
