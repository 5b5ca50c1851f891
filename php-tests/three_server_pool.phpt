--TEST--
Three memcached servers shared with PECL memcache: a token written by PECL is read by the extension and the reverse (same server choice); with one server down, keys on the others are still shared and keys on it still served
--SKIPIF--
<?php
if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind');
if (!class_exists('Memcache')) die('skip PECL memcache not installed (interop only)');
?>
--INI--
weixin.cache_key=pool_{appid}
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$servers = [start_memcached(), start_memcached(), start_memcached()];
$ports = array_column($servers, 1);
ini_set('weixin.memcache_servers', implode(',', array_map(fn ($p) => "127.0.0.1:$p", $ports)));
$pecl = new Memcache();
foreach ($ports as $port) @$pecl->addServer('127.0.0.1', $port); // @: PECL memcache's own 8.2 deprecation

/** Which server (index into $ports) holds $key, asked of each server directly. */
function holder(string $key, array $direct): ?int
{
    foreach ($direct as $n => $one) {
        if ($one !== null && $one->get($key) !== false) return $n;
    }
    return null;
}
$direct = [];
foreach ($ports as $n => $port) {
    $direct[$n] = new Memcache();
    @$direct[$n]->connect('127.0.0.1', $port);
}

$legacyToExt = $extToLegacy = $legacyNoCall = 0;
$used = [];
// At least 12 keys, and more until every server holds one (where a key lands
// depends on the random AppIDs and ports).
for ($i = 0; $i < 12 || (count($used) < 3 && $i < 200); $i++) {
    // Legacy code caches a token; the extension must find it on the same server.
    $appid = test_appid("pecl$i");
    reset_account($appid);
    $pecl->set("pool_$appid", "PECL_TOKEN_$i", 0, 600);
    if ((new class_weixin($appid, TEST_SECRET))->access_token === "PECL_TOKEN_$i") $legacyToExt++;
    if (stats($appid)['token_calls'] === 0) $legacyNoCall++;

    // The extension caches a token; legacy code must find it.
    $appid = test_appid("ext$i");
    reset_account($appid);
    $token = (new class_weixin($appid, TEST_SECRET))->access_token;
    if ($pecl->get("pool_$appid") === $token) $extToLegacy++;
    if (($n = holder("pool_$appid", $direct)) !== null) $used[$n] = true;
}
echo "legacy -> extension: ", $legacyToExt === $i ? 'all' : "$legacyToExt of $i", "\n";
echo "extension -> legacy: ", $extToLegacy === $i ? 'all' : "$extToLegacy of $i", "\n";
echo "servers used: ", count($used), "\n";
echo "no upstream call for legacy tokens: ", $legacyNoCall === $i ? 'all' : "$legacyNoCall of $i", "\n";

// Where an AppID's keys land (PECL memcache with all three servers up is the
// reference): the token key, KEY:meta and KEY:lock each have their own place.
function placement(string $appid, Memcache $pecl, array $direct): array
{
    $at = [];
    foreach (['', ':meta', ':lock'] as $suffix) {
        $pecl->set("pool_$appid$suffix", 'probe', 0, 60);
        $at[] = holder("pool_$appid$suffix", $direct);
        $pecl->delete("pool_$appid$suffix");
    }
    return $at;
}
// Server 0 is stopped next. Wanted: 2 AppIDs whose three keys all avoid it
// with the token on server 1, 2 likewise on server 2; 3 whose token is on
// server 0; 2 whose token is on a live server and a companion key on server 0.
$live = [1 => [], 2 => []];
$onDead = $mixed = [];
for ($i = 0; $i < 2000 && (count($live[1]) < 2 || count($live[2]) < 2 || count($onDead) < 3 || count($mixed) < 2); $i++) {
    $appid = test_appid("down$i");
    $at = placement($appid, $pecl, $direct);
    if (in_array(null, $at, true)) continue;
    if ($at[0] === 0) {
        if (count($onDead) < 3) $onDead[] = $appid;
    } elseif (!in_array(0, $at, true)) {
        if (count($live[$at[0]]) < 2) $live[$at[0]][] = [$at[0], $appid];
    } elseif (count($mixed) < 2) {
        $mixed[] = $appid;
    }
}
echo "appids found: ", count($live[1]) + count($live[2]), " live, ", count($onDead), " on the dead server, ", count($mixed), " mixed\n";

// One server down.
stop_memcached($servers[0][0]);
$direct[0] = null;
$warnings = [];
set_error_handler(function ($no, $message) use (&$warnings) { $warnings[] = $message; return true; });

// Keys on the other two go through memcached as before, with no warning: a
// token cached there by legacy code is served without an upstream call, and
// a token the extension fetches is shared there.
$shared = 0;
foreach ([...$live[1], ...$live[2]] as $k => [$n, $appid]) {
    reset_account($appid);
    if ($k % 2 === 0) {
        $direct[$n]->set("pool_$appid", "PECL_DOWN_$appid", 0, 600);
        $ok = (new class_weixin($appid, TEST_SECRET))->access_token === "PECL_DOWN_$appid"
            && stats($appid)['token_calls'] === 0;
    } else {
        $token = (new class_weixin($appid, TEST_SECRET))->access_token;
        $ok = token_is_current($token) && $direct[$n]->get("pool_$appid") === $token
            && stats($appid)['token_calls'] === 1;
    }
    if ($ok) $shared++;
}
echo "with one server down, keys on the live servers: $shared of 4 shared through memcached, warnings: ", count($warnings), "\n";

// Keys with a part on the dead server: served all the same, each fetched
// once by this process (the stable token, when its memcached is unreachable).
// One warning for the request, naming the dead server.
$served = 0;
foreach ([...$onDead, ...$mixed] as $appid) {
    reset_account($appid);
    $token = (new class_weixin($appid, TEST_SECRET))->access_token;
    $s = stats($appid);
    if (token_is_current($token) && $s['token_calls'] + $s['stable_calls'] === 1) $served++;
}
restore_error_handler();
echo "with one server down, keys with a part on it: $served of 5 served\n";
echo "warnings: ", count($warnings), ", naming the dead server: ",
    isset($warnings[0]) && str_contains($warnings[0], "127.0.0.1:{$ports[0]}") ? 'yes' : 'no', "\n";
stop_memcached($servers[1][0]);
stop_memcached($servers[2][0]);
?>
--EXPECT--
legacy -> extension: all
extension -> legacy: all
servers used: 3
no upstream call for legacy tokens: all
appids found: 4 live, 3 on the dead server, 2 mixed
with one server down, keys on the live servers: 4 of 4 shared through memcached, warnings: 0
with one server down, keys with a part on it: 5 of 5 served
warnings: 1, naming the dead server: yes
