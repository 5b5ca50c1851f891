--TEST--
Legacy shape 2, properties added on the fly (expires_time, lasttime, jsapi_ticket, jsapi_expire, cardapi_ticket): migrated, they work with no deprecation on PHP 8.2+ (the native class allows dynamic properties, its subclasses too), and the helper names those the removed constructor set
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/legacy.inc';
legacy_story('dynamic_properties', 'weixin.class.php', ['caller.php' => '
require_once "weixin.class.php";
$weixin = new class_weixin();
' . LEGACY_WHOSE . '
$ticket = $weixin->get_jsapi_ticket_cached();
echo "jsapi ticket: ", $ticket !== "" && $weixin->jsapi_ticket === $ticket && $weixin->jsapi_expire > time() ? "kept on the object" : "missing",
    ", again: ", $weixin->get_jsapi_ticket_cached() === $ticket ? "the same" : "another", "\n";
echo "card ticket: ", $weixin->get_card_ticket_cached() === $weixin->cardapi_ticket ? "kept on the object" : "missing", "\n";
$weixin->lasttime = time();
echo "properties: ", implode(", ", array_keys(get_object_vars($weixin))), "\n";
']);
?>
--EXPECT--
== the copy as it is, with the extension loaded
class_weixin: the copy's own, extends nothing
jsapi ticket: kept on the object, again: the same
card ticket: kept on the object
properties: appid, appsecret, access_token, lasttime, expires_time, jsapi_ticket, jsapi_expire, cardapi_ticket
upstream calls: 1
== php scripts/migrate-legacy.php weixin.class.php
--- weixin.class.php
+++ weixin.class.php (migrated)
@@ -7,29 +7,11 @@
 define('APPID', 'wx0000000000000002');
 define('APPSECRET', '00000000000000000000000000000002');
 
-class class_weixin
+class class_weixin extends class_weixin_native
 {
     var $appid = APPID;
     var $appsecret = APPSECRET;
 
-    public function __construct($appid = NULL, $appsecret = NULL)
-    {
-        if ($appid && $appsecret) {
-            $this->appid = $appid;
-            $this->appsecret = $appsecret;
-        }
-        $mem = new Memcache;
-        $mem->connect('localhost', 11211);
-        $this->access_token = $mem->get('access_token');
-        $this->lasttime = time();
-        if (!$this->access_token) {
-            $res = json_decode($this->http_request("https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=".$this->appid."&secret=".$this->appsecret), true);
-            $this->access_token = $res['access_token'];
-            $this->expires_time = time() + $res['expires_in'];
-            $mem->set('access_token', $this->access_token, 0, 7200);
-        }
-    }
-
     public function get_jsapi_ticket_cached()
     {
         if (empty($this->jsapi_ticket) || $this->jsapi_expire < time()) {

Left alone, and why:
- __construct() removed (lines 15-31): the extension's constructor takes the same ($appid, $appsecret), falls back to the properties, then APPID/APPSECRET, then php.ini, and gets the token shared by every process (memcached key weixin.cache_key, "access_token" by default, as the legacy constructor used). Anything else the constructor did is gone with it: read the diff
- the constructor also set $this->lasttime, $this->expires_time: no longer set; where a method needs them, set them there, or declare __construct($appid = null, $appsecret = null) that calls parent::__construct($appid, $appsecret) and sets them
- http_request(): it overrides the extension's, so every call of the copy goes through it as before (protected or public: both fine); delete it to use the extension's (TLS verified, a refused token replaced once)
- the $appid/$appsecret defaults kept: the extension uses them when the constructor gets no arguments
- define('APPID'/'APPSECRET', ...) kept: the extension reads those constants too
- properties its methods add on the fly keep working: the extension's class allows them (#[\AllowDynamicProperties])

Nothing written: run again with --write to make this edit (the original is kept as weixin.class.php.bak).
(exit status 0)
== --write: exit status 0, the backup is the original: yes, the file changed: yes
== the migrated copy, the token the copy cached still in memcached
class_weixin: the copy's own, extends class_weixin_native
jsapi ticket: kept on the object, again: the same
card ticket: kept on the object
properties: appid, appsecret, access_token, jsapi_ticket, jsapi_expire, cardapi_ticket, lasttime
upstream calls: 1
== the migrated copy, memcached empty
class_weixin: the copy's own, extends class_weixin_native
jsapi ticket: kept on the object, again: the same
card ticket: kept on the object
properties: appid, appsecret, access_token, jsapi_ticket, jsapi_expire, cardapi_ticket, lasttime
memcached holds the extension's token (its record beside it), WeChat takes it: yes
upstream calls: 2
