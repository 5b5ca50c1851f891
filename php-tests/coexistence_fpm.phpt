--TEST--
One php-fpm worker with opcache on serves, in turn, an app with its own class_weixin (a legacy copy) and apps that use the native class: each gets its own, every time
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs php-fpm and nginx: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';
require __DIR__ . '/fpm.inc';
$appid = test_appid('coexistfpm');
reset_account($appid);

// The page runs the app named in the query, as a host with several apps
// under one pool does; each app is a file of its own.
$site = fpm_start('<?php echo getmypid(), "/", (opcache_get_status(false)["opcache_enabled"] ?? false) ? "opcache" : "-", " "; require __DIR__ . "/" . basename($_GET["app"]) . ".php";',
    ['weixin.cache_key' => 'coexistfpm_{appid}', 'opcache.enable' => '1', 'opcache.validate_timestamps' => '0'] + opcache_ini(), 1);
file_put_contents($site['dir'] . '/legacy.php', '<?php
require_once __DIR__ . "/weixin.class.php";
$w = new class_weixin();
echo get_class($w), " (its own): ", $w->getSignPackage();');
file_put_contents($site['dir'] . '/weixin.class.php', '<?php
class class_weixin
{
    public $access_token = "legacy";
    public function __construct() {}
    public function getSignPackage() { return "signed by its own method"; }
}');
file_put_contents($site['dir'] . '/native.php', '<?php
$w = new class_weixin("' . $appid . '", "' . TEST_SECRET . '");
echo get_class($w), " (native): ", $w->access_token;');
file_put_contents($site['dir'] . '/subclass.php', '<?php
class app_weixin extends class_weixin {}
$w = new app_weixin("' . $appid . '", "' . TEST_SECRET . '");
echo get_class($w), " (native): ", $w->access_token;');

$pids = [];
$opcache = [];
$tokens = [];
foreach (['legacy', 'native', 'legacy', 'subclass', 'native', 'legacy', 'legacy', 'subclass'] as $i => $app) {
    $reply = (string) @file_get_contents($site['url'] . "?app=$app");
    [$worker, $said] = explode(' ', $reply, 2) + [1 => ''];
    [$pid, $cache] = explode('/', $worker) + [1 => '?'];
    $pids[$pid] = 1;
    $opcache[$cache] = 1;
    if (preg_match('/\(native\): (\S+)$/', $said, $m)) {
        $tokens[$m[1]] = 1;
        $said = str_replace($m[1], 'TOKEN', $said);
    }
    echo $i + 1, ". $app: ", $said !== '' ? strip_tags($said) : $reply, "\n";
}
echo "one worker: ", count($pids) === 1 ? 'yes' : 'no (' . count($pids) . ')', "\n";
echo "opcache on in it: ", array_keys($opcache) === ['opcache'] ? 'yes' : implode(',', array_keys($opcache)), "\n";
$token = array_key_first($tokens);
echo "native apps: one token, current: ", count($tokens) === 1 && token_is_current($token) ? 'yes' : 'no', ", upstream calls: ", stats($appid)['token_calls'], "\n";
$errors = @file_get_contents($site['dir'] . '/php-errors.log');
echo "PHP errors logged: ", $errors ? $errors : 'none', "\n";
fpm_stop($site);
forget_token("coexistfpm_$appid");
reset_account($appid);
?>
--EXPECT--
1. legacy: class_weixin (its own): signed by its own method
2. native: class_weixin (native): TOKEN
3. legacy: class_weixin (its own): signed by its own method
4. subclass: app_weixin (native): TOKEN
5. native: class_weixin (native): TOKEN
6. legacy: class_weixin (its own): signed by its own method
7. legacy: class_weixin (its own): signed by its own method
8. subclass: app_weixin (native): TOKEN
one worker: yes
opcache on in it: yes
native apps: one token, current: yes, upstream calls: 1
PHP errors logged: none
