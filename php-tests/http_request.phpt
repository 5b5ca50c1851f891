--TEST--
http_request(): GET, POST string, multipart with CURLFile, transport failure returns false with a warning
--INI--
weixin.cache_key=http_{appid}
weixin.timeout=2
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('http');
reset_account($appid);

class api extends class_weixin {
    public function call($url, $data = null) { return $this->http_request($url, $data); }
}
$w = new api($appid, TEST_SECRET);
$base = getenv('WEIXIN_TEST_API');

// Empty data of any kind is a GET, as with !empty() in the legacy class.
foreach ([null, '', '0', [], 0, false] as $empty) {
    echo json_decode($w->call("$base/__echo", $empty), true)['method'], ' ';
}
echo "\n";

// Binary-safe bodies both ways.
$binary = "a\0b\xff";
$echo = json_decode($w->call("$base/__echo", $binary), true);
var_dump($echo['body_len'], $echo['body_md5'] === md5($binary));

// A file upload, as WeChat's media API takes it.
$file = tempnam(sys_get_temp_dir(), 'wx');
file_put_contents($file, random_bytes(5000));
$reply = json_decode($w->call("$base/cgi-bin/media/upload?access_token={$w->access_token}&type=image",
    ['media' => new CURLFile($file, 'image/jpeg', 'photo.jpg')]), true);
var_dump($reply['type'], $reply['x_filename'], $reply['x_size'], $reply['x_content_type'], $reply['x_md5'] === md5_file($file));
unlink($file);

// The reply body is returned whatever the HTTP status, like curl_exec().
var_dump(json_decode($w->call("$base/__echo?status=500"), true)['method']);

// Transport failure: false and a warning, like curl_exec().
var_dump($w->call('http://127.0.0.1:1/cgi-bin/x?access_token=abc'));
// A timeout too.
var_dump($w->call("$base/__echo?delay_ms=3000"));
?>
--EXPECTF--
GET GET GET GET GET GET 
int(4)
bool(true)
string(5) "image"
string(9) "photo.jpg"
int(5000)
string(10) "image/jpeg"
bool(true)
string(3) "GET"

Warning: class_weixin::http_request(): request to http://127.0.0.1:1/cgi-bin/x failed: %s in %s on line %d
bool(false)

Warning: class_weixin::http_request(): request to %s/__echo failed: %s(timed out after 2s; see weixin.timeout) in %s on line %d
bool(false)
