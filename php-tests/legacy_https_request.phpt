--TEST--
Legacy shape 4, the class_weixin_adv family with an https_request() helper (protected) instead of http_request(): migrated, its methods call https_request() with the extension's token
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/legacy.inc';
legacy_story('https_request', 'weixin.class.php', ['caller.php' => '
require_once "weixin.class.php";
$weixin = new class_weixin();
' . LEGACY_WHOSE . '
$ip = $weixin->get_callback_ip();
echo "get_callback_ip(): ", isset($ip["ip_list"]) ? "ok" : json_encode($ip), "\n";
$sent = $weixin->send_template_message(json_encode(["touser" => "o1", "template_id" => "t1", "data" => []]));
echo "send_template_message(): errcode ", $sent["errcode"] ?? "none", "\n";
']);
?>
--EXPECT--
== the copy as it is, with the extension loaded
class_weixin: the copy's own, extends nothing
get_callback_ip(): ok
send_template_message(): errcode 0
upstream calls: 1
== php scripts/migrate-legacy.php weixin.class.php
--- weixin.class.php
+++ weixin.class.php (migrated)
@@ -7,29 +7,11 @@
 define('APPID', 'wx0000000000000004');
 define('APPSECRET', '00000000000000000000000000000004');
 
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
-        $mem->connect('localhost', 11211) or die("Could not connect");
-        $this->access_token = $mem->get('access_token');
-        if (empty($this->access_token)) {
-            $url = "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=".$this->appid."&secret=".$this->appsecret;
-            $res = $this->https_request($url);
-            $result = json_decode($res, true);
-            $this->access_token = $result["access_token"];
-            $mem->set('access_token', $this->access_token, 0, 7200);
-        }
-    }
-
     //获取服务器IP
     public function get_callback_ip()
     {

Left alone, and why:
- __construct() removed (lines 15-31): the extension's constructor takes the same ($appid, $appsecret), falls back to the properties, then APPID/APPSECRET, then php.ini, and gets the token shared by every process (memcached key weixin.cache_key, "access_token" by default, as the legacy constructor used). Anything else the constructor did is gone with it: read the diff
- https_request(): the extension has no method of that name: it works as before, with $this->access_token from the extension
- the $appid/$appsecret defaults kept: the extension uses them when the constructor gets no arguments
- define('APPID'/'APPSECRET', ...) kept: the extension reads those constants too
- properties its methods add on the fly keep working: the extension's class allows them (#[\AllowDynamicProperties])

Nothing written: run again with --write to make this edit (the original is kept as weixin.class.php.bak).
(exit status 0)
== --write: exit status 0, the backup is the original: yes, the file changed: yes
== the migrated copy, the token the copy cached still in memcached
class_weixin: the copy's own, extends class_weixin_native
get_callback_ip(): ok
send_template_message(): errcode 0
upstream calls: 1
== the migrated copy, memcached empty
class_weixin: the copy's own, extends class_weixin_native
get_callback_ip(): ok
send_template_message(): errcode 0
memcached holds the extension's token (its record beside it), WeChat takes it: yes
upstream calls: 2
