--TEST--
Legacy shape 3, http_request() widened to public with a JSON Content-Type and called from outside the class: migrated, the public redeclaration is allowed (the native one is protected) and outside callers send with the extension's token
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/legacy.inc';
legacy_story('public_http_request', 'weixin.class.php', ['caller.php' => '
require_once "weixin.class.php";
$weixin = new class_weixin();
' . LEGACY_WHOSE . '
$api = getenv("WEIXIN_TEST_API");
$echo = json_decode($weixin->http_request("$api/__echo/cgi-bin/message/custom/send?access_token=" . $weixin->access_token,
    json_encode(["touser" => "o1", "msgtype" => "text", "text" => ["content" => "hi"]])), true);
echo "outside caller, POST: ", $echo["headers"]["content-type"], ", token sent: ",
    $echo["query"]["access_token"] === $weixin->access_token ? "the object\'s" : "another", "\n";
$sent = json_decode($weixin->http_request("$api/cgi-bin/message/template/send?access_token=" . $weixin->access_token,
    json_encode(["touser" => "o1", "template_id" => "t1", "data" => []])), true);
echo "template message: errcode ", $sent["errcode"] ?? "none", "\n";
echo "http_request() is public: ", (new ReflectionMethod($weixin, "http_request"))->isPublic() ? "yes" : "no", "\n";
']);
?>
--EXPECT--
== the copy as it is, with the extension loaded
class_weixin: the copy's own, extends nothing
outside caller, POST: application/json; charset=utf-8, token sent: the object's
template message: errcode 0
http_request() is public: yes
upstream calls: 1
== php scripts/migrate-legacy.php weixin.class.php
--- weixin.class.php
+++ weixin.class.php (migrated)
@@ -7,29 +7,12 @@
 define('APPID', 'wx0000000000000003');
 define('APPSECRET', '00000000000000000000000000000003');
 
-class class_weixin
+class class_weixin extends class_weixin_native
 {
     var $appid = APPID;
     var $appsecret = APPSECRET;
     var $access_token;
 
-    public function __construct($appid = NULL, $appsecret = NULL)
-    {
-        if ($appid && $appsecret) {
-            $this->appid = $appid;
-            $this->appsecret = $appsecret;
-        }
-        $mem = new Memcache;
-        $mem->connect('localhost', 11211) or die("Could not connect");
-        $this->access_token = $mem->get('access_token');
-        if (empty($this->access_token)) {
-            $url = "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=".$this->appid."&secret=".$this->appsecret;
-            $result = json_decode($this->http_request($url), true);
-            $this->access_token = $result["access_token"];
-            $mem->set('access_token', $this->access_token, 0, 7200);
-        }
-    }
-
     public function http_request($url, $data = null)
     {
         $curl = curl_init();

Left alone, and why:
- __construct() removed (lines 16-31): the extension's constructor takes the same ($appid, $appsecret), falls back to the properties, then APPID/APPSECRET, then php.ini, and gets the token shared by every process (memcached key weixin.cache_key, "access_token" by default, as the legacy constructor used). Anything else the constructor did is gone with it: read the diff
- http_request(): it overrides the extension's, so every call of the copy goes through it as before (protected or public: both fine); delete it to use the extension's (TLS verified, a refused token replaced once)
- the $appid/$appsecret defaults kept: the extension uses them when the constructor gets no arguments
- define('APPID'/'APPSECRET', ...) kept: the extension reads those constants too
- properties its methods add on the fly keep working: the extension's class allows them (#[\AllowDynamicProperties])

Nothing written: run again with --write to make this edit (the original is kept as weixin.class.php.bak).
(exit status 0)
== --write: exit status 0, the backup is the original: yes, the file changed: yes
== the migrated copy, the token the copy cached still in memcached
class_weixin: the copy's own, extends class_weixin_native
outside caller, POST: application/json; charset=utf-8, token sent: the object's
template message: errcode 0
http_request() is public: yes
upstream calls: 1
== the migrated copy, memcached empty
class_weixin: the copy's own, extends class_weixin_native
outside caller, POST: application/json; charset=utf-8, token sent: the object's
template message: errcode 0
http_request() is public: yes
memcached holds the extension's token (its record beside it), WeChat takes it: yes
upstream calls: 2
