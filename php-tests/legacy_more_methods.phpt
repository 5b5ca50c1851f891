--TEST--
Legacy shape 1, the copy with more methods (JS-SDK signing with a private getJsApiTicket() calling $this->http_request(), card tickets and signature, APIs, a private logger, APPID/APPSECRET and header() at the top): works as it is with the extension loaded, and migrated by scripts/migrate-legacy.php its methods work with the extension's token
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/legacy.inc';
legacy_story('more_methods', 'weixin.class.php', ['caller.php' => '
require_once "weixin.class.php";
$weixin = new class_weixin();
' . LEGACY_WHOSE . '
$sign = $weixin->getSignPackage("http://example.com/page?a=1");
parse_str(str_replace("&url=", "&page=", $sign["rawString"]), $raw);
echo "getSignPackage(): signature of the raw string: ", sha1($sign["rawString"]) === $sign["signature"] ? "yes" : "no",
    ", ticket taken by WeChat: ", ($raw["jsapi_ticket"] ?? "") !== "" ? "yes" : "no", ", appId: ", $sign["appId"] === APPID ? "APPID" : $sign["appId"], "\n";
echo "get_card_ticket(): ", $weixin->get_card_ticket() !== "" ? "a ticket" : "none", ", get_cardsign(): ",
    $weixin->get_cardsign(["b", "c", "a"]) === sha1("abc") ? "ok" : "wrong", "\n";
$ip = $weixin->get_callback_ip();
echo "get_callback_ip(): ", isset($ip["ip_list"]) ? "ok" : json_encode($ip), "\n";
$sent = $weixin->send_template_message(json_encode(["touser" => "o1", "template_id" => "t1", "data" => []]));
echo "send_template_message(): errcode ", $sent["errcode"] ?? "none", "\n";
echo "logger(): ", substr_count((string) @file_get_contents(__DIR__ . "/log.txt"), "jsapi_ticket ok"), " line(s)\n";
@unlink(__DIR__ . "/log.txt");
']);
?>
--EXPECT--
== the copy as it is, with the extension loaded
class_weixin: the copy's own, extends nothing
getSignPackage(): signature of the raw string: yes, ticket taken by WeChat: yes, appId: APPID
get_card_ticket(): a ticket, get_cardsign(): ok
get_callback_ip(): ok
send_template_message(): errcode 0
logger(): 1 line(s)
upstream calls: 1
== php scripts/migrate-legacy.php weixin.class.php
--- weixin.class.php
+++ weixin.class.php (migrated)
@@ -8,30 +8,11 @@
 define("APPID", "wx0000000000000001");
 define("APPSECRET", "00000000000000000000000000000001");
 
-class class_weixin
+class class_weixin extends class_weixin_native
 {
     var $appid = APPID;
     var $appsecret = APPSECRET;
 
-    //构造函数,获取Access Token
-    public function __construct($appid = NULL, $appsecret = NULL)
-    {
-        if($appid && $appsecret){
-            $this->appid = $appid;
-            $this->appsecret = $appsecret;
-        }
-        $mem = new Memcache;
-        $mem->connect('localhost', 11211) or die ("Could not connect");
-        $this->access_token = $mem->get('access_token');
-        if (empty($this->access_token)){
-            $url = "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=".$this->appid."&secret=".$this->appsecret;
-            $res = $this->http_request($url);
-            $result = json_decode($res, true);
-            $this->access_token = $result["access_token"];
-            $mem->set('access_token', $this->access_token, 0, 7200);
-        }
-    }
-
     //JS-SDK 签名包
     public function getSignPackage($url = '')
     {

Left alone, and why:
- __construct() removed (lines 16-33): the extension's constructor takes the same ($appid, $appsecret), falls back to the properties, then APPID/APPSECRET, then php.ini, and gets the token shared by every process (memcached key weixin.cache_key, "access_token" by default, as the legacy constructor used). Anything else the constructor did is gone with it: read the diff
- getSignPackage(): kept; jssdk_config($url) gives the same wx.config() fields with the ticket shared by every process (README, "JS-SDK")
- getJsApiTicket(): kept; get_jsapi_ticket() is the extension's ticket, shared by every process (README, "JS-SDK")
- http_request(): it overrides the extension's, so every call of the copy goes through it as before (protected or public: both fine); delete it to use the extension's (TLS verified, a refused token replaced once)
- the $appid/$appsecret defaults kept: the extension uses them when the constructor gets no arguments
- define('APPID'/'APPSECRET', ...) kept: the extension reads those constants too
- properties its methods add on the fly keep working: the extension's class allows them (#[\AllowDynamicProperties])

Nothing written: run again with --write to make this edit (the original is kept as weixin.class.php.bak).
(exit status 0)
== --write: exit status 0, the backup is the original: yes, the file changed: yes
== the migrated copy, the token the copy cached still in memcached
class_weixin: the copy's own, extends class_weixin_native
getSignPackage(): signature of the raw string: yes, ticket taken by WeChat: yes, appId: APPID
get_card_ticket(): a ticket, get_cardsign(): ok
get_callback_ip(): ok
send_template_message(): errcode 0
logger(): 1 line(s)
upstream calls: 1
== the migrated copy, memcached empty
class_weixin: the copy's own, extends class_weixin_native
getSignPackage(): signature of the raw string: yes, ticket taken by WeChat: yes, appId: APPID
get_card_ticket(): a ticket, get_cardsign(): ok
get_callback_ip(): ok
send_template_message(): errcode 0
logger(): 1 line(s)
memcached holds the extension's token (its record beside it), WeChat takes it: yes
upstream calls: 2
