--TEST--
Three memcached servers shared with PECL memcache: a token written by PECL is read by the extension and the reverse (same server choice)
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
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

$legacyToExt = $extToLegacy = 0;
$used = [];
// At least 12 keys, and more until every server holds one (where a key lands
// depends on the random AppIDs and ports).
for ($i = 0; $i < 12 || (count($used) < 3 && $i < 200); $i++) {
    // Legacy code caches a token; the extension must find it on the same server.
    $appid = test_appid("pecl$i");
    reset_account($appid);
    $pecl->set("pool_$appid", "PECL_TOKEN_$i", 0, 600);
    if ((new class_weixin($appid, TEST_SECRET))->access_token === "PECL_TOKEN_$i") $legacyToExt++;

    // The extension caches a token; legacy code must find it.
    $appid = test_appid("ext$i");
    reset_account($appid);
    $token = (new class_weixin($appid, TEST_SECRET))->access_token;
    if ($pecl->get("pool_$appid") === $token) $extToLegacy++;
    foreach ($ports as $n => $port) {
        $one = new Memcache();
        @$one->connect('127.0.0.1', $port);
        if ($one->get("pool_$appid") !== false) $used[$n] = true;
    }
}
echo "legacy -> extension: ", $legacyToExt === $i ? 'all' : "$legacyToExt of $i", "\n";
echo "extension -> legacy: ", $extToLegacy === $i ? 'all' : "$extToLegacy of $i", "\n";
echo "servers used: ", count($used), "\n";
echo "no upstream call for legacy tokens: ", stats(test_appid('x'))['token_calls'] === 0 ? 'yes' : 'no', "\n";

// One server down: tokens are still served.
stop_memcached($servers[0][0]);
$ok = 0;
set_error_handler(fn () => true);
for ($i = 0; $i < 6; $i++) {
    $appid = test_appid("down$i");
    reset_account($appid);
    if (token_is_current((new class_weixin($appid, TEST_SECRET))->access_token)) $ok++;
}
echo "with one server down: $ok of 6 served\n";
stop_memcached($servers[1][0]);
stop_memcached($servers[2][0]);
?>
--EXPECT--
legacy -> extension: all
extension -> legacy: all
servers used: 3
no upstream call for legacy tokens: yes
with one server down: 6 of 6 served
