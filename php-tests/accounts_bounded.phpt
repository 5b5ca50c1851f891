--TEST--
A process holds at most 4096 accounts and cache keys: AppIDs that come from user input cannot grow it without bound
--INI--
weixin.cache_key=bounded_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';

function held(): array
{
    ob_start();
    phpinfo(INFO_MODULES);
    preg_match_all('/^(accounts held|cache keys held) => (\d+)$/m', ob_get_clean(), $m);
    return array_map('intval', array_combine($m[1], $m[2]));
}

// 4100 accounts, each with a token cached by legacy code (no upstream call).
$memcache = legacy_memcache();
$prefix = test_appid('bounded');
for ($i = 0; $i < 4100; $i++) {
    $memcache->set("bounded_$prefix$i", "TOKEN_$i", 0, 600);
}
$served = 0;
for ($i = 0; $i < 4100; $i++) {
    $served += (new class_weixin("$prefix$i", TEST_SECRET))->access_token === "TOKEN_$i";
    if ($i === 99) {
        echo "after 100: ", json_encode(held()), "\n";
    }
}
echo "served: $served\n";
$held = held();
echo "after 4100: at most 4096 each: ", $held['accounts held'] <= 4096 && $held['cache keys held'] <= 4096 ? 'yes' : json_encode($held), "\n";
// The first account, dropped meanwhile, still gets its token.
var_dump((new class_weixin("{$prefix}0", TEST_SECRET))->access_token);
for ($i = 0; $i < 4100; $i++) {
    $memcache->delete("bounded_$prefix$i");
}
?>
--EXPECT--
after 100: {"accounts held":100,"cache keys held":100}
served: 4100
after 4100: at most 4096 each: yes
string(7) "TOKEN_0"
