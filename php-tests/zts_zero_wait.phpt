--TEST--
ZTS, real threads: a due token is replaced by one background thread of the process while its 8 PHP threads x 25 requests keep constructing: the stand-in holds that replacement's request, unanswered, and every request still runs to its end with the current token (none waits); one token request for all the threads; released, the process's shutdown waits for the replacement, which is published
--SKIPIF--
<?php
require __DIR__ . '/zts/harness.inc';
if ($why = zts_unavailable()) die("skip $why");
?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';
require __DIR__ . '/zts/harness.inc';

const THREADS = 8;
const REQUESTS = 25;
const CONSTRUCTIONS = 40;

// Tokens of 60 s, due after 1 s (weixin.refresh_margin=59), served until
// 54 s; a held request waits for the test, not for time (token_timeout 30).
$ini = ['weixin.cache_key' => 'ztszw_{appid}', 'weixin.refresh_margin' => '59', 'weixin.token_timeout' => '30'];
foreach ($ini as $name => $value) {
    ini_set($name, $value);
}
$harness = zts_build_harness();
$appid = test_appid('ztszw');
$key = "ztszw_$appid";
reset_account($appid, ['expires_in' => 60]);
$first = (new class_weixin($appid, TEST_SECRET))->access_token; // the cold start, in this process
// The record beside the token is kept by memcached until the token is due.
echo "the token due: ", wait_for(fn () => get_raw("$key:meta") === null) ? 'yes' : 'no', "\n";
standin('/__admin/configure', ['appid' => $appid, 'hold' => 1]);

$started = zts_start($harness, THREADS, REQUESTS,
    ['ZTS_SECRET' => TEST_SECRET, 'ZTS_CONSTRUCTIONS' => (string) CONSTRUCTIONS, 'ZTS_SPREAD' => 'own', 'ZTS_APPIDS' => $appid],
    $ini);
// Every request of every thread ends while WeChat holds the replacement's
// request (before, the thread that found the token due waited for it).
$summary = wait_for(fn () => zts_summary($started), 60);
$s = stats($appid);
echo "every request ran while the replacement's request is held: ", $summary ? 'yes' : 'no',
    "; held: {$s['held']}, token requests: {$s['token_calls']}",
    "; the process still running (its shutdown waits for the replacement): ",
    proc_get_status($started['process'])['running'] ? 'yes' : 'no', "\n";
standin('/__admin/release', ['appid' => $appid]);
$run = zts_wait($started);
echo "exit status: {$run['status']}\n";
echo $run['summary'], "\n";
$trouble = zts_trouble($run);
echo 'errors, warnings, leak reports, assertions: ', $trouble ? "\n  " . implode("\n  ", $trouble) : 'none', "\n";
$tokens = zts_tokens($run, $appid);
echo "tokens served: ", array_keys($tokens) === [$first] ? 'the current one' : json_encode($tokens),
    ", constructions: ", array_sum($tokens), "\n";
$new = get_raw($key);
$s = stats($appid);
echo "released: a new token published: ", $new !== null && $new !== $first && token_is_current($new) ? 'yes' : 'no',
    ", the lock released: ", get_raw("$key:lock") === null ? 'yes' : 'no',
    ", token requests: {$s['token_calls']}, abandoned: {$s['hold_abandoned']}\n";
zts_remove_harness($harness);
?>
--EXPECT--
the token due: yes
every request ran while the replacement's request is held: yes; held: 1, token requests: 2; the process still running (its shutdown waits for the replacement): yes
exit status: 0
harness: 8 threads x 25 requests: 200 ran, 0 failed
errors, warnings, leak reports, assertions: none
tokens served: the current one, constructions: 8000
released: a new token published: yes, the lock released: yes, token requests: 2, abandoned: 0
