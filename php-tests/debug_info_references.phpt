--TEST--
var_dump() masks the AppSecret in a copy: it never writes the mask through a reference (a variable bound to $w->appsecret, or an unserialized object whose appsecret is a reference to its appid)
--INI--
weixin.cache_key=dbgref_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('dbgref');
reset_account($appid);

$w = new class_weixin($appid, TEST_SECRET);
$s = &$w->appsecret;
ob_start();
var_dump($w);
print_r($w);
$shown = ob_get_clean();
echo "shown masked: ", substr_count($shown, '********') === 2 && !str_contains($shown, TEST_SECRET) ? 'yes' : 'no', "\n";
echo "property kept: ", $w->appsecret === TEST_SECRET ? 'yes' : var_export($w->appsecret, true), "\n";
echo "reference kept: ", $s === TEST_SECRET ? 'yes' : var_export($s, true), "\n";
echo "refresh still works: ", token_is_current($w->refresh_access_token()) ? 'yes' : 'no', "\n";

// appsecret a reference to appid, as unserialize() can build.
$copy = unserialize(str_replace(
    's:9:"appsecret";s:32:"' . TEST_SECRET . '";',
    's:9:"appsecret";R:2;',
    serialize($w)
));
ob_start();
var_dump($copy);
ob_end_clean();
echo "unserialized appid kept: ", $copy->appid === $appid ? 'yes' : var_export($copy->appid, true), "\n";
?>
--EXPECT--
shown masked: yes
property kept: yes
reference kept: yes
refresh still works: yes
unserialized appid kept: yes
