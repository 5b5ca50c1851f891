--TEST--
Zero-wait rotation and fork(): a pcntl_fork child of a process whose token replacement is running (its request held by the stand-in) never inherits it: it serves the current token without waiting, starts no replacement of its own, and exits without waiting for its parent's thread; the parent's replacement is published once released
--EXTENSIONS--
pcntl
--INI--
weixin.cache_key=zwf_{appid}
weixin.refresh_margin=59
weixin.token_timeout=30
--FILE--
<?php
require __DIR__ . '/helpers.inc';
// The token lives 60 s: due 1 s after it is fetched, served until 54 s.
$appid = test_appid('zwfork');
reset_account($appid, ['expires_in' => 60]);
$first = (new class_weixin($appid, TEST_SECRET))->access_token;
standin('/__admin/configure', ['appid' => $appid, 'hold' => 1]);
// Construct until this process finds the token due and starts its
// replacement, whose request the stand-in holds.
wait_for(function () use ($appid) {
    new class_weixin($appid, TEST_SECRET);
    return stats($appid)['held'] >= 1;
}, 20);
echo "parent: its replacement held: ", stats($appid)['held'] === 1 ? 'yes' : 'no', "\n";

$file = tempnam(sys_get_temp_dir(), 'wxzwf');
$pid = pcntl_fork();
if ($pid === 0) {
    $tokens = [];
    for ($i = 0; $i < 30; $i++) {
        $tokens[] = (new class_weixin($appid, TEST_SECRET))->access_token;
    }
    file_put_contents($file, json_encode(array_values(array_unique($tokens))));
    exit(0); // the module's shutdown: nothing of its own to wait for
}
$status = 0;
$exited = wait_for(function () use ($pid, &$status) {
    return pcntl_waitpid($pid, $status, WNOHANG) === $pid;
}, 30);
$s = stats($appid);
$tokens = json_decode((string) file_get_contents($file), true);
unlink($file);
echo "child: exited: ", $exited ? 'yes, ' . pcntl_wexitstatus($status) : 'no (hung)',
    "; its parent's request still held meanwhile: ", $s['held'] === 1 && $s['hold_abandoned'] === 0 ? 'yes' : 'no',
    "; served the current token: ", $tokens === [$first] ? 'yes' : json_encode($tokens),
    "; token requests: {$s['token_calls']}\n";
if (!$exited) {
    posix_kill($pid, 9);
}

standin('/__admin/release', ['appid' => $appid]);
$new = wait_for(fn () => ($t = (new class_weixin($appid, TEST_SECRET))->access_token) !== $first ? $t : null);
$s = stats($appid);
echo "parent: released, the new token served: ", $new && token_is_current($new) ? 'yes' : 'no',
    ", shared: ", get_raw("zwf_$appid") === $new ? 'yes' : 'no',
    ", token requests: {$s['token_calls']}, abandoned: {$s['hold_abandoned']}\n";
?>
--EXPECT--
parent: its replacement held: yes
child: exited: yes, 0; its parent's request still held meanwhile: yes; served the current token: yes; token requests: 2
parent: released, the new token served: yes, shared: yes, token requests: 2, abandoned: 0
