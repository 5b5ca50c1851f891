--TEST--
JS-SDK tickets: 30 cold processes get one jsapi ticket from one upstream request, kept under KEY:jsapi_ticket (wx_card under its own key); a ticket request answered 40001 replaces the token once and is asked again; a failing ticket request poisons nothing; jssdk_config() signs the page as the JS-SDK documentation says, without the ticket
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind'); ?>
--INI--
weixin.cache_key=tk_{appid}
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('tickets');
reset_account($appid, ['delay_ms' => 100]);
$ini = ['weixin.cache_key' => 'tk_{appid}'];

// 1. Cold, 30 processes at once.
$results = run_parallel(30, 'echo (new class_weixin(getenv("APPID"), TEST_SECRET))->get_jsapi_ticket();', $ini, ['APPID' => $appid]);
$tickets = array_unique(array_column($results, 'out'));
$failed = count(array_filter($results, fn ($r) => $r['status'] !== 0 || $r['err'] !== ''));
$s = stats($appid);
$ticket = reset($tickets);
echo "30 processes: failed $failed, distinct tickets ", count($tickets), ", ticket requests ", $s['ticket_calls']['jsapi'] ?? 0,
    ", token requests {$s['token_calls']}\n";
echo "the stand-in's current jsapi ticket: ", $ticket === ($s['current_tickets']['jsapi'] ?? null) ? 'yes' : 'no',
    ", memcached holds it under tk_$appid:jsapi_ticket: ", get_raw("tk_$appid:jsapi_ticket") === $ticket ? 'yes' : 'no', "\n";

// 2. This process: from memcached; wx_card has its own ticket and key.
$w = new class_weixin($appid, TEST_SECRET);
$card = $w->get_ticket('wx_card');
$s = stats($appid);
echo "again: the same ticket: ", $w->get_jsapi_ticket() === $ticket && $w->get_ticket() === $ticket ? 'yes' : 'no',
    ", wx_card: its own: ", $card !== $ticket && $card === ($s['current_tickets']['wx_card'] ?? null) ? 'yes' : 'no',
    ", under tk_$appid:wx_card_ticket: ", get_raw("tk_$appid:wx_card_ticket") === $card ? 'yes' : 'no',
    ", ticket requests: jsapi {$s['ticket_calls']['jsapi']} wx_card {$s['ticket_calls']['wx_card']}\n";
try {
    $w->get_ticket('card');
} catch (WeixinException $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}

// 3. Someone else replaced the token (a direct call to WeChat) and the
// ticket is gone: the ticket request is refused with 40001, the token
// replaced once (compare first), the ticket asked for again.
$old = $w->access_token;
standin('/cgi-bin/token', ['grant_type' => 'client_credential', 'appid' => $appid, 'secret' => TEST_SECRET]);
forget_token("tk_$appid:jsapi_ticket");
$before = stats($appid);
$w2 = new class_weixin($appid, TEST_SECRET);
$fresh = $w2->get_jsapi_ticket();
$after = stats($appid);
$token = get_raw("tk_$appid");
echo "after 40001: a new ticket: ", $fresh !== $ticket && $fresh === $after['current_tickets']['jsapi'] ? 'yes' : 'no',
    ", ticket requests refused +", $after['api_rejected'] - $before['api_rejected'],
    ", answered +", $after['ticket_calls']['jsapi'] - $before['ticket_calls']['jsapi'],
    ", token requests +", $after['token_calls'] - $before['token_calls'],
    ", the shared token replaced and current: ", $token !== $old && token_is_current($token) ? 'yes' : 'no', "\n";

// 4. A failing ticket request in a new process (this one would serve the
// ticket it still holds): an exception with WeChat's errcode; the token
// and the other ticket are untouched, nothing is cached for it.
forget_token("tk_$appid:jsapi_ticket");
standin('/__admin/configure', ['appid' => $appid, 'ticket_errcode' => '45009', 'ticket_failures' => '1']);
[$child] = run_parallel(1, 'try { (new class_weixin(getenv("APPID"), TEST_SECRET))->get_jsapi_ticket(); echo "no exception"; }
    catch (WeixinException $e) { echo get_class($e), " code ", $e->getCode(); }', $ini, ['APPID' => $appid]);
echo "failing ticket request: {$child['out']}, token unchanged: ", get_raw("tk_$appid") === $token ? 'yes' : 'no',
    ", wx_card ticket unchanged: ", get_raw("tk_$appid:wx_card_ticket") === $card ? 'yes' : 'no',
    ", no jsapi ticket cached: ", get_raw("tk_$appid:jsapi_ticket") === null ? 'yes' : 'no', "\n";

// 5. jssdk_config(): the documented signature of the URL without its #...
forget_token("tk_$appid:jsapi_ticket"); // and the failure marker
$w3 = new class_weixin($appid, TEST_SECRET);
$ticket = $w3->get_jsapi_ticket();
$page = 'https://example.com/page?a=1&b=%E4%B8%AD#/route?x=1';
$config = $w3->jssdk_config($page, ['updateAppMessageShareData', 'chooseImage'], true, ['wx-open-launch-weapp']);
echo "keys: ", implode(',', array_keys($config)), "\n";
$expected = sha1("jsapi_ticket=$ticket&noncestr={$config['nonceStr']}&timestamp={$config['timestamp']}&url=https://example.com/page?a=1&b=%E4%B8%AD");
echo "signature as documented: ", $config['signature'] === $expected ? 'yes' : 'no',
    ", appId: ", $config['appId'] === $appid ? 'yes' : 'no',
    ", timestamp an int near now: ", is_int($config['timestamp']) && abs($config['timestamp'] - time()) < 60 ? 'yes' : 'no',
    ", nonceStr 16+ alphanumerics: ", preg_match('/^[A-Za-z0-9]{16,}$/', $config['nonceStr']) ? 'yes' : 'no', "\n";
echo "debug: ", var_export($config['debug'], true), ", lists: ", json_encode([$config['jsApiList'], $config['openTagList']]),
    ", the ticket in it: ", str_contains(serialize($config), $ticket) ? 'yes' : 'no', "\n";
$other = $w3->jssdk_config('https://example.com/');
echo "defaults: debug ", var_export($other['debug'], true), ", lists: ", json_encode([$other['jsApiList'], $other['openTagList']]),
    ", a new nonce: ", $other['nonceStr'] !== $config['nonceStr'] ? 'yes' : 'no', "\n";
try {
    $w3->jssdk_config('');
} catch (WeixinException $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
?>
--EXPECTF--
30 processes: failed 0, distinct tickets 1, ticket requests 1, token requests 1
the stand-in's current jsapi ticket: yes, memcached holds it under tk_%s:jsapi_ticket: yes
again: the same ticket: yes, wx_card: its own: yes, under tk_%s:wx_card_ticket: yes, ticket requests: jsapi 1 wx_card 1
WeixinException: class_weixin::get_ticket(): Argument #1 ($type) must be 'jsapi' or 'wx_card', 'card' given
after 40001: a new ticket: yes, ticket requests refused +1, answered +1, token requests +1, the shared token replaced and current: yes
failing ticket request: WeixinException code 45009, token unchanged: yes, wx_card ticket unchanged: yes, no jsapi ticket cached: yes
keys: debug,appId,timestamp,nonceStr,signature,jsApiList,openTagList
signature as documented: yes, appId: yes, timestamp an int near now: yes, nonceStr 16+ alphanumerics: yes
debug: true, lists: [["updateAppMessageShareData","chooseImage"],["wx-open-launch-weapp"]], the ticket in it: no
defaults: debug false, lists: [[],[]], a new nonce: yes
WeixinException: class_weixin::jssdk_config(): Argument #1 ($url) is empty: pass the page's full URL
