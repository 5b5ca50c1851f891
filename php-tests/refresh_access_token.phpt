--TEST--
refresh_access_token(): 50 processes reporting the same bad token cause one upstream call and all get the same new token
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures time or runs many processes: not under valgrind'); ?>
--INI--
weixin.cache_key=refresh_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('refresh');
reset_account($appid);
$w = new class_weixin($appid, TEST_SECRET);
$bad = $w->access_token;

$results = run_parallel(50, '
    $w = new class_weixin(getenv("APPID"), TEST_SECRET);
    $old = $w->access_token;
    time_sleep_until((float) getenv("START_AT") + 1.0);   // all report at once
    $new = $w->refresh_access_token();
    echo $old, " ", $new, " ", $w->access_token === $new ? "property-updated" : "stale-property";',
    ['weixin.cache_key' => 'refresh_{appid}'], ['APPID' => $appid]);

$olds = $news = $flags = [];
foreach ($results as $r) {
    [$old, $new, $flag] = explode(' ', $r['out'] ?: '- - -') + [null, null, null];
    $olds[$old] = 1; $news[$new] = 1; $flags[$flag] = 1;
    if ($r['status'] !== 0 || $r['err'] !== '') echo "child failed: ", $r['err'], "\n";
}
echo "all held the bad token: ", array_keys($olds) === [$bad] ? 'yes' : 'no', "\n";
echo "distinct new tokens: ", count($news), "\n";
echo "upstream calls (first + refresh): ", stats($appid)['token_calls'], "\n";
echo implode(',', array_keys($flags)), "\n";
$new = array_key_first($news);
echo "new token current, old one dead: ", token_is_current($new) && !token_is_current($bad) ? 'yes' : 'no', "\n";

// In this process too: the new token is adopted without another call.
var_dump($w->refresh_access_token() === $new, $w->access_token === $new, stats($appid)['token_calls']);
// Reporting the new token as bad replaces it, with one more call.
var_dump($w->refresh_access_token() !== $new, stats($appid)['token_calls']);
?>
--EXPECT--
all held the bad token: yes
distinct new tokens: 1
upstream calls (first + refresh): 2
property-updated
new token current, old one dead: yes
bool(true)
bool(true)
int(2)
bool(true)
int(3)
