--TEST--
HTTPS: a stand-in with a self-signed certificate is refused without weixin.ca_file and accepted with it
--INI--
weixin.cache_key=tls_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('tls');
standin('/__admin/reset', ['appid' => $appid], true);
ini_set('weixin.api_base_url', getenv('WEIXIN_TEST_API_TLS'));

try {
    new class_weixin($appid, TEST_SECRET);
    echo "accepted an untrusted certificate!\n";
} catch (WeixinException $e) {
    echo "refused: ", str_contains($e->getMessage(), 'see weixin.ca_file') ? 'certificate not trusted' : $e->getMessage(), "\n";
}
var_dump(legacy_memcache()->get("tls_$appid"));

// A new account: the failure above is remembered for its key for a moment.
ini_set('weixin.ca_file', getenv('WEIXIN_TEST_CA_FILE'));
$appid = test_appid('tls');
$w = new class_weixin($appid, TEST_SECRET);
var_dump(isset(standin('/cgi-bin/getcallbackip', ['access_token' => $w->access_token], true)['ip_list']));

class tls_api extends class_weixin { function get($u) { return $this->http_request($u); } }
$api = new tls_api($appid, TEST_SECRET);
echo json_decode($api->get(getenv('WEIXIN_TEST_API_TLS') . '/__echo/tls'), true)['path'], "\n";

ini_set('weixin.ca_file', '/nonexistent/ca.pem');
try {
    new class_weixin(test_appid('tls'), TEST_SECRET);
} catch (WeixinException $e) {
    echo $e->getMessage(), "\n";
}
?>
--EXPECTF--
refused: certificate not trusted
bool(false)
bool(true)
/__echo/tls
weixin.ca_file: '/nonexistent/ca.pem' cannot be read: No such file or directory (os error 2)
