--TEST--
Cache lifetime is expires_in minus weixin.refresh_margin, never 0, negative or past expires_in
--INI--
weixin.cache_key=ttl_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';

function cached_ttl(int $expires_in, ?int $margin = null): ?int
{
    if ($margin !== null) ini_set('weixin.refresh_margin', (string) $margin);
    $appid = test_appid('ttl');
    reset_account($appid, ['expires_in' => $expires_in]);
    new class_weixin($appid, TEST_SECRET);
    return memcached_ttl("ttl_$appid");
}

function near(?int $ttl, int $expected): string
{
    return ($ttl !== null && $ttl <= $expected && $ttl >= max(1, $expected - 2)) ? "~$expected" : "got " . var_export($ttl, true);
}

echo "7200, margin 300: ", near(cached_ttl(7200, 300), 6900), "\n";
echo "7200, margin 0: ", near(cached_ttl(7200, 0), 7200), "\n";
echo "300, margin 300: ", near(cached_ttl(300, 300), 150), "\n";
echo "200, margin 300: ", near(cached_ttl(200, 300), 100), "\n";
echo "1, margin 300: ", near(cached_ttl(1, 300), 1), "\n";
// Over 30 days memcached would read a Unix timestamp: clamped to 30 days minus the margin.
echo "40 days, margin 300: ", near(cached_ttl(40 * 86400, 300), 30 * 86400 - 300), "\n";
// The memcached "forever" (-1 in its meta reply) never happens.
echo "never forever: ", cached_ttl(7200, 7200) > 0 ? 'yes' : 'no', "\n";
?>
--EXPECT--
7200, margin 300: ~6900
7200, margin 0: ~7200
300, margin 300: ~150
200, margin 300: ~100
1, margin 300: ~1
40 days, margin 300: ~2591700
never forever: yes
