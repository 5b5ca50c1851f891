--TEST--
Refresh point is expires_in minus weixin.refresh_margin (never 0, negative or past expires_in); memcached keeps the token until just before it expires
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--INI--
weixin.cache_key=ttl_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';

/** [seconds until the token is due, seconds memcached keeps the plain key, and its record] */
function lifetimes(int $expires_in, int $margin): array
{
    ini_set('weixin.refresh_margin', (string) $margin);
    $appid = test_appid('ttl');
    reset_account($appid, ['expires_in' => $expires_in]);
    // A 1-second token and record are kept until memcached's next tick:
    // written and read within one of its seconds, not across a tick.
    if (!await_memcached_tick()) {
        return ['memcached never ticked', null, null];
    }
    $w = new class_weixin($appid, TEST_SECRET);
    $meta = token_meta("ttl_$appid");
    if ($meta === null || $meta['token'] !== $w->access_token) {
        return ['no meta', null, null];
    }
    return [(int) round($meta['refresh_at'] - $meta['fetched_at']), memcached_ttl("ttl_$appid"), memcached_ttl("ttl_$appid:meta")];
}

function near(?int $ttl, int $expected): string
{
    return ($ttl !== null && $ttl <= $expected && $ttl >= max(1, $expected - 2)) ? "~$expected" : "got " . var_export($ttl, true);
}

foreach ([
    // expires_in, margin, due after, kept for: served until expires_in less a
    // tenth (at most 60 s), plus a second for memcached's coarse clock, never
    // past expires_in; the record is kept until the token is due (a reader
    // that cannot ask memcached for a TTL learns "due" from its absence)
    [7200, 300, 6900, 7141],
    [7200, 0, 7200, 7200],
    [300, 300, 150, 271],   // the margin eats the lifetime: due at half of it
    [200, 300, 100, 181],
    [1, 300, 1, 1],
    [40 * 86400, 300, 30 * 86400 - 300, 30 * 86400 - 59], // over 30 days memcached reads a timestamp
] as [$expires_in, $margin, $due, $kept]) {
    [$refresh, $ttl, $record] = lifetimes($expires_in, $margin);
    printf("%d, margin %d: due after %s, kept %s, record kept %s\n", $expires_in, $margin,
        $refresh === $due ? $due : "got $refresh", near($ttl, $kept), near($record, $due));
}
// memcached's "forever" (-1 in its reply) never happens.
echo "never forever: ", lifetimes(7200, 7200)[1] > 0 ? 'yes' : 'no', "\n";
?>
--EXPECT--
7200, margin 300: due after 6900, kept ~7141, record kept ~6900
7200, margin 0: due after 7200, kept ~7200, record kept ~7200
300, margin 300: due after 150, kept ~271, record kept ~150
200, margin 300: due after 100, kept ~181, record kept ~100
1, margin 300: due after 1, kept ~1, record kept ~1
3456000, margin 300: due after 2591700, kept ~2591941, record kept ~2591700
never forever: yes
