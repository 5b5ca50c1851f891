--TEST--
Zero-wait rotation under php-fpm: while the stand-in holds the replacement's token request, unanswered, wrk's requests are all served the current token (none waits for it); released, the new token is served. With pm.max_requests=1 the worker that started the replacement is recycled right after its request: it waits for its refresh at shutdown, and the new token is published, not lost
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs php-fpm under load: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';
require __DIR__ . '/fpm.inc';
// Tokens of 60 s, due after 1 s (weixin.refresh_margin=59), served until
// 54 s; a held request waits for the test, not for time (token_timeout 30).
$page = '<?php echo (new class_weixin($_GET["appid"], "' . TEST_SECRET . '"))->access_token;';
$ini = ['weixin.cache_key' => 'zwp_{appid}', 'weixin.refresh_margin' => '59', 'weixin.token_timeout' => '30'];

foreach (['4 workers' => [], '4 workers, pm.max_requests=1' => ['pm.max_requests = 1']] as $label => $pool) {
    echo "== $label\n";
    $site = fpm_start($page, $ini, 4, $pool);
    $appid = test_appid('zwfpm');
    $url = $site['url'] . "?appid=$appid";
    reset_account($appid, ['expires_in' => 60]);
    $first = file_get_contents($url); // the cold start: waits
    standin('/__admin/configure', ['appid' => $appid, 'hold' => 1]);
    // Requests until one finds the token due and starts its replacement.
    $seen = [];
    wait_for(function () use ($url, $appid, &$seen) {
        $seen[file_get_contents($url)] = 1;
        return stats($appid)['held'] >= 1;
    }, 20);
    $load = wrk_run($url, 8, 2);
    $s = stats($appid);
    echo "while WeChat holds the request: ", $load['requests'] > 50 ? 'over 50' : $load['requests'], " requests, failed {$load['failed']}",
        ", tokens served: ", array_keys($seen) === [$first] && $load['distinct'] === 1 ? 'the current one' : json_encode([array_keys($seen), $load['distinct']]),
        "; the request still held, its client waiting: ", $s['held'] === 1 && $s['hold_abandoned'] === 0 ? 'yes' : 'no',
        "; token requests: {$s['token_calls']}\n";
    standin('/__admin/release', ['appid' => $appid]);
    $new = wait_for(fn () => ($t = file_get_contents($url)) !== $first ? $t : null, 20);
    $s = stats($appid);
    echo "released: the new token served: ", $new && token_is_current($new) ? 'yes' : 'no',
        ", shared: ", get_raw("zwp_$appid") === $new ? 'yes' : 'no',
        ", token requests: {$s['token_calls']}, abandoned: {$s['hold_abandoned']}\n";
    $errors = @file_get_contents($site['dir'] . '/php-errors.log');
    echo "PHP errors logged: ", $errors ? $errors : 'none', "\n";
    fpm_stop($site);
}
?>
--EXPECT--
== 4 workers
while WeChat holds the request: over 50 requests, failed 0, tokens served: the current one; the request still held, its client waiting: yes; token requests: 2
released: the new token served: yes, shared: yes, token requests: 2, abandoned: 0
PHP errors logged: none
== 4 workers, pm.max_requests=1
while WeChat holds the request: over 50 requests, failed 0, tokens served: the current one; the request still held, its client waiting: yes; token requests: 2
released: the new token served: yes, shared: yes, token requests: 2, abandoned: 0
PHP errors logged: none
