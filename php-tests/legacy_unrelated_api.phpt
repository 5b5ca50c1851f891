--TEST--
Legacy shape 5, a class_weixin with an API of its own (no http_request(), getAccessToken() caching to a file, httpGet()/httpPost()): it keeps working as it is with the extension loaded, and the helper leaves it alone
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/legacy.inc';
legacy_story('unrelated_api', 'weixin.class.php', ['caller.php' => '
require_once "weixin.class.php";
$weixin = new class_weixin("wx0000000000000000", TEST_SECRET);
' . LEGACY_WHOSE . '
$token = $weixin->getAccessToken();
echo "getAccessToken(): ", $token === json_decode(file_get_contents("access_token.json"))->access_token ? "cached in its file" : "not cached",
    ", again: ", $weixin->getAccessToken() === $token ? "the same" : "another", "\n";
$ip = $weixin->getCallbackIp();
echo "getCallbackIp(): ", isset($ip["ip_list"]) ? "ok" : json_encode($ip), "\n";
$echo = json_decode($weixin->httpPost(getenv("WEIXIN_TEST_API") . "/__echo/post", "a=1"), true);
echo "httpPost(): ", $echo["body"], "\n";
echo "class_weixin_native is there too: ", class_exists("class_weixin_native") ? "yes" : "no", "\n";
']);
?>
--EXPECT--
== the copy as it is, with the extension loaded
class_weixin: the copy's own, extends nothing
getAccessToken(): cached in its file, again: the same
getCallbackIp(): ok
httpPost(): a=1
class_weixin_native is there too: yes
upstream calls: 1
== php scripts/migrate-legacy.php weixin.class.php
weixin.class.php: nothing to change: its constructor does not get an access token (an API of its own under the same name): no edit needed, the extension leaves a script's own class_weixin alone; it keeps working as it is
(exit status 0)
