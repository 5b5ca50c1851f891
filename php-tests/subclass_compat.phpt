--TEST--
Subclasses behave as with the userland class: defaults, http_request override calling parent, serialize, clone, dynamic properties
--INI--
weixin.cache_key=sub_{appid}
error_reporting=E_ALL
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('subclass');
reset_account($appid);

eval('class legacy_app extends class_weixin {
    var $appid = "' . $appid . '";
    var $appsecret = TEST_SECRET;
    public $calls = [];

    // The legacy signature, untyped, calling the parent.
    protected function http_request($url, $data = null)
    {
        $this->calls[] = $data === null ? "GET" : "POST";
        return parent::http_request($url, $data);
    }

    public function send($url, $data = null) { return $this->http_request($url, $data); }
}');

$w = new legacy_app();
var_dump($w instanceof class_weixin, $w->appid === $appid, token_is_current($w->access_token));

$echo = json_decode($w->send(getenv('WEIXIN_TEST_API') . '/__echo/get?x=1'), true);
echo $echo['method'], ' ', $echo['path'], ' ', $echo['query']['x'], "\n";
$echo = json_decode($w->send(getenv('WEIXIN_TEST_API') . '/__echo/post', 'a=1&b=2'), true);
echo $echo['method'], ' ', $echo['headers']['content-type'], ' ', $echo['body'], "\n";
$echo = json_decode($w->send(getenv('WEIXIN_TEST_API') . '/__echo/form', ['a' => '1', 'b' => 2]), true);
echo $echo['method'], ' ', strtok($echo['headers']['content-type'], ';'), ' ';
foreach ($echo['parts'] as $part) echo $part['name'], '=', $part['text'], ' ';
echo "\n";
echo implode(',', $w->calls), "\n";

// serialize / unserialize / clone keep every property.
$copy = unserialize(serialize($w));
var_dump(get_class($copy), $copy->appid === $w->appid, $copy->access_token === $w->access_token, $copy->appsecret === TEST_SECRET);
$clone = clone $w;
$clone->access_token = 'changed';
var_dump($w->access_token !== 'changed', $clone->appid === $appid);

// Dynamic properties, as legacy methods add them on the fly: allowed
// (#[\AllowDynamicProperties]), for subclasses too, with no deprecation.
$plain = new class_weixin($appid, TEST_SECRET);
$plain->extra = 42;
var_dump($plain->extra);
$w->expires_time = 7200;
var_dump($w->expires_time, (new ReflectionClass('class_weixin'))->getAttributes()[0]->getName());
var_dump(array_keys(get_object_vars($plain)));
?>
--EXPECTF--
bool(true)
bool(true)
bool(true)
GET /__echo/get 1
POST application/x-www-form-urlencoded a=1&b=2
POST multipart/form-data a=1 b=2 
GET,POST,POST
string(10) "legacy_app"
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
int(42)
int(7200)
string(22) "AllowDynamicProperties"
array(4) {
  [0]=>
  string(5) "appid"
  [1]=>
  string(9) "appsecret"
  [2]=>
  string(12) "access_token"
  [3]=>
  string(5) "extra"
}
