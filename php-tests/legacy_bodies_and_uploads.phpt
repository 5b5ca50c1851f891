--TEST--
Legacy shape 6, request bodies and uploads (urldecode(json_encode()), plain json_encode, JSON by hand, a string the caller encoded, an upload as array('media' => '@' . $path)): byte for byte the same before and after migration, through the copy's own http_request(); the extension's http_request() sends the same string bodies, and uploads a CURLFile, where the '@' string has sent only its text since PHP 5.6
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/legacy.inc';
$calls = '
$menu = json_decode($weixin->create_menu([["type" => "click", "name" => "今日歌曲", "key" => "V1001"]]), true);
echo "create_menu(): ", $menu["body"], " (", $menu["headers"]["content-type"], ")\n";
$custom = json_decode($weixin->send_custom_message(["touser" => "o1", "msgtype" => "text", "text" => ["content" => "你好"]]), true);
echo "send_custom_message(): ", $custom["body"], "\n";
$text = json_decode($weixin->send_text("o1", "早上好"), true);
echo "send_text(): ", $text["body"], "\n";
$template = json_decode($weixin->send_template_message(json_encode(["touser" => "o1", "template_id" => "t1", "data" => []])), true);
echo "send_template_message(): errcode ", $template["errcode"] ?? "none", "\n";
file_put_contents("image.jpg", str_repeat("\xff", 1000));
$upload = json_decode($weixin->upload_media("image", __DIR__ . "/image.jpg"), true);
echo "upload_media() with \'@\': ", isset($upload["x_size"]) ? "sent " . $upload["x_size"] . " bytes, file name " . var_export($upload["x_filename"], true) : json_encode($upload), "\n";
foreach ([$menu, $custom, $text] as $echo) $tokens[$echo["query"]["access_token"]] = 1;
echo "the token sent: ", array_keys($tokens) === [$weixin->access_token] ? "the object\'s" : "another", "\n";
';
legacy_story('bodies_and_uploads', 'weixin.class.php', ['caller.php' => '
require_once "weixin.class.php";
$weixin = new class_weixin();
' . LEGACY_WHOSE . $calls], ['/cgi-bin/menu/', '/cgi-bin/message/custom/']);

// The extension's own http_request() (a copy that deleted its own): the same
// string bodies, and an upload as the README says to write it.
$appid = test_appid('legacy');
reset_account($appid);
$dir = legacy_copy('bodies_and_uploads', $appid, "legacy_$appid", ['/cgi-bin/menu/', '/cgi-bin/message/custom/']);
$class = file_get_contents("$dir/weixin.class.php");
$class = preg_replace('/\n    protected function http_request.*\n    }\n/s', "\n", str_replace('class class_weixin', 'class class_weixin extends class_weixin_native', $class));
$class = preg_replace('/\n    public function __construct.*?\n    }\n/s', "\n", $class);
file_put_contents("$dir/weixin.class.php", str_replace("'@'.\$file", 'new CURLFile($file)', $class));
echo "== the migrated copy without its own http_request(), uploads as CURLFile\n";
echo legacy_run($dir, "legacy_$appid", 'require_once "weixin.class.php";
$weixin = new class_weixin();
echo "http_request(): ", (new ReflectionMethod($weixin, "http_request"))->getDeclaringClass()->getName(), "\n";
' . $calls), "\n";
legacy_remove($dir);
forget_token("legacy_$appid");
reset_account($appid);
?>
--EXPECT--
== the copy as it is, with the extension loaded
class_weixin: the copy's own, extends nothing
create_menu(): {"button":[{"type":"click","name":"今日歌曲","key":"V1001"}]} (application/x-www-form-urlencoded)
send_custom_message(): {"touser":"o1","msgtype":"text","text":{"content":"\u4f60\u597d"}}
send_text(): {"touser":"o1","msgtype":"text","text":{"content":"早上好"}}
send_template_message(): errcode 0
upload_media() with '@': sent 32 bytes, file name NULL
the token sent: the object's
upstream calls: 1
== php scripts/migrate-legacy.php weixin.class.php
--- weixin.class.php
+++ weixin.class.php (migrated)
@@ -8,28 +8,11 @@
 define('APPID', 'wx0000000000000006');
 define('APPSECRET', '00000000000000000000000000000006');
 
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
     //创建菜单: urlencode each name, then urldecode the JSON
     public function create_menu($buttons)
     {

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
create_menu(): {"button":[{"type":"click","name":"今日歌曲","key":"V1001"}]} (application/x-www-form-urlencoded)
send_custom_message(): {"touser":"o1","msgtype":"text","text":{"content":"\u4f60\u597d"}}
send_text(): {"touser":"o1","msgtype":"text","text":{"content":"早上好"}}
send_template_message(): errcode 0
upload_media() with '@': sent 32 bytes, file name NULL
the token sent: the object's
upstream calls: 1
== the migrated copy, memcached empty
class_weixin: the copy's own, extends class_weixin_native
create_menu(): {"button":[{"type":"click","name":"今日歌曲","key":"V1001"}]} (application/x-www-form-urlencoded)
send_custom_message(): {"touser":"o1","msgtype":"text","text":{"content":"\u4f60\u597d"}}
send_text(): {"touser":"o1","msgtype":"text","text":{"content":"早上好"}}
send_template_message(): errcode 0
upload_media() with '@': sent 32 bytes, file name NULL
the token sent: the object's
memcached holds the extension's token (its record beside it), WeChat takes it: yes
upstream calls: 2
== the migrated copy without its own http_request(), uploads as CURLFile
http_request(): class_weixin_native
create_menu(): {"button":[{"type":"click","name":"今日歌曲","key":"V1001"}]} (application/x-www-form-urlencoded)
send_custom_message(): {"touser":"o1","msgtype":"text","text":{"content":"\u4f60\u597d"}}
send_text(): {"touser":"o1","msgtype":"text","text":{"content":"早上好"}}
send_template_message(): errcode 0
upload_media() with '@': sent 1000 bytes, file name 'image.jpg'
the token sent: the object's
