--TEST--
Legacy shape 7, how callers load the class: require_once from its directory, include_once '../lib/weixin.class.php', a framework's loader (ThinkPHP's vendor()), Composer's classmap autoloader, namespaced code calling new \class_weixin(): each finds the copy, as it is and migrated, and gets the extension's token once migrated
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/legacy.inc';
legacy_story('callers', 'lib/weixin.class.php', ['lib/index.php', 'wechat/menu.php', 'framework.php', 'composer.php',
    'app/Controller/WechatController.php']);
?>
--EXPECT--
== the copy as it is, with the extension loaded
require_once: ok
include_once '../lib/weixin.class.php': ok
vendor('lib.weixin#class'): ok
Composer classmap: ok
namespaced new \class_weixin(): ok
upstream calls: 1
== php scripts/migrate-legacy.php lib/weixin.class.php
--- lib/weixin.class.php
+++ lib/weixin.class.php (migrated)
@@ -8,28 +8,11 @@
 define('APPID', 'wx0000000000000007');
 define('APPSECRET', '00000000000000000000000000000007');
 
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
-            $result = json_decode($this->http_request($url), true);
-            $this->access_token = $result["access_token"];
-            $mem->set('access_token', $this->access_token, 0, 7200);
-        }
-    }
-
     public function get_callback_ip()
     {
         $url = "https://api.weixin.qq.com/cgi-bin/getcallbackip?access_token=".$this->access_token;

Left alone, and why:
- __construct() removed (lines 16-31): the extension's constructor takes the same ($appid, $appsecret), falls back to the properties, then APPID/APPSECRET, then php.ini, and gets the token shared by every process (memcached key weixin.cache_key, "access_token" by default, as the legacy constructor used). Anything else the constructor did is gone with it: read the diff
- http_request(): it overrides the extension's, so every call of the copy goes through it as before (protected or public: both fine); delete it to use the extension's (TLS verified, a refused token replaced once)
- the $appid/$appsecret defaults kept: the extension uses them when the constructor gets no arguments
- define('APPID'/'APPSECRET', ...) kept: the extension reads those constants too
- properties its methods add on the fly keep working: the extension's class allows them (#[\AllowDynamicProperties])

Nothing written: run again with --write to make this edit (the original is kept as lib/weixin.class.php.bak).
(exit status 0)
== --write: exit status 0, the backup is the original: yes, the file changed: yes
== the migrated copy, the token the copy cached still in memcached
require_once: ok
include_once '../lib/weixin.class.php': ok
vendor('lib.weixin#class'): ok
Composer classmap: ok
namespaced new \class_weixin(): ok
upstream calls: 1
== the migrated copy, memcached empty
require_once: ok
include_once '../lib/weixin.class.php': ok
vendor('lib.weixin#class'): ok
Composer classmap: ok
namespaced new \class_weixin(): ok
memcached holds the extension's token (its record beside it), WeChat takes it: yes
upstream calls: 2
