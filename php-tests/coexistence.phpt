--TEST--
Scripts that declare their own class_weixin keep it, on the same PHP as scripts that use the native one (CLI, with and without opcache): nothing changes for code without its own class
--INI--
weixin.cache_key=coexist_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';

/** Runs $code (after helpers.inc) in a PHP of its own; its output, warnings included. */
function script(string $code, array $ini = []): string
{
    $file = tempnam(sys_get_temp_dir(), 'wxcoexist');
    file_put_contents($file, "<?php\nrequire " . var_export(__DIR__ . '/helpers.inc', true) . ";\n$code");
    $process = proc_open([...php_command($ini + ['weixin.cache_key' => 'coexist_{appid}', 'display_errors' => 'stdout']), $file],
        [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, ['APPID' => $GLOBALS['appid']] + getenv());
    $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
    proc_close($process);
    unlink($file);
    return trim(str_replace($file, 'SCRIPT', $out));
}

$appid = test_appid('coexist');
reset_account($appid);

// A legacy copy, grown with a method of its own, declared at the top level
// (bound when the file is compiled) and inside a condition (bound at run time).
$own = 'class class_weixin {
    public $access_token = "legacy";
    public function __construct() {}
    public function getSignPackage() { return "its own method"; }
}
$w = new class_weixin();
echo get_class($w), ": ", $w->getSignPackage(), ", internal: ", (new ReflectionClass($w))->isInternal() ? "yes" : "no", "\n";';
$conditional = 'if (!class_exists("class_weixin", false)) {
    class class_weixin { public function getSignPackage() { return "its own method"; } }
}
echo (new class_weixin())->getSignPackage(), "\n";';

// No class of its own: the native class, as always.
$native = '$w = new class_weixin(getenv("APPID"), TEST_SECRET);
ob_start(); var_dump($w); $dump = ob_get_clean();
echo "var_dump: ", strtok($dump, "\n"), "\n";
echo "get_class: ", get_class($w), ", instanceof: ", $w instanceof class_weixin ? "yes" : "no",
    ", internal: ", (new ReflectionClass("class_weixin"))->isInternal() ? "yes" : "no", ", parent: ", var_export(get_parent_class($w), true), "\n";
$copy = unserialize(serialize($w));
echo "serialize: ", get_class($copy), ", same token: ", $copy->access_token === $w->access_token ? "yes" : "no", "\n";
class app_weixin extends class_weixin {}
echo "subclass: ", (new app_weixin(getenv("APPID"), TEST_SECRET))->access_token === $w->access_token ? "the same token" : "another token", "\n";
echo "class_exists: ", var_export(class_exists("class_weixin"), true), ", token current: ", token_is_current($w->access_token) ? "yes" : "no", "\n";';
// A script that asks first gets the native class: a guard by class_exists()
// (autoloading, as by default) finds it.
$asks_first = 'var_dump(class_exists("class_weixin"));
if (!class_exists("class_weixin")) { class class_weixin {} }
echo get_class(new class_weixin(getenv("APPID"), TEST_SECRET)), " ", (new ReflectionClass("class_weixin"))->isInternal() ? "native" : "own", "\n";';
// A copy loaded by the script's autoloader (Composer's classmap does so) is
// its own; an autoloader that knows no class_weixin leaves the native one.
$autoloaded = '$dir = sys_get_temp_dir() . "/wxcoexist" . getmypid(); @mkdir($dir);
file_put_contents("$dir/weixin.class.php", "<?php class class_weixin { function getSignPackage() { return \"its own method\"; } }");
spl_autoload_register(function ($class) use ($dir) {
    $map = ["class_weixin" => "$dir/weixin.class.php"];
    if (isset($map[strtolower($class)])) require $map[strtolower($class)];
});
echo (new class_weixin())->getSignPackage(), "\n";
unlink("$dir/weixin.class.php"); rmdir($dir);';
$other_autoloader = 'spl_autoload_register(function ($class) { echo "autoloader asked for $class\n"; });
$w = new class_weixin(getenv("APPID"), TEST_SECRET);
echo get_class($w), " ", (new ReflectionClass($w))->isInternal() ? "native" : "own", "\n";';
// Before anything asks: listed as always, found by no spelling.
$listed = 'echo implode(",", (new ReflectionExtension("weixin"))->getClassNames()), "; declared: ",
    in_array("class_weixin", get_declared_classes()) ? "listed" : "not listed", "; without autoloading: ",
    var_export(class_exists("class_weixin", false) || class_exists("CLASS_WEIXIN", false) || class_exists("Class_Weixin", false), true), "\n";';
// unserialize() of a native object with nothing declared yet.
$unserialize_first = '$w = unserialize(' . var_export(serialize((new ReflectionClass('class_weixin'))->newInstanceWithoutConstructor()), true) . ');
echo get_class($w), " ", (new ReflectionClass($w))->isInternal() ? "native" : "own", "\n";';

foreach (['opcache off' => ['opcache.enable_cli' => '0'], 'opcache on' => ['opcache.enable_cli' => '1'] + opcache_ini()] as $label => $ini) {
    echo "== $label\n";
    foreach (['own class' => $own, 'own class, declared in a condition' => $conditional, 'no class of its own' => $native,
        'own class after asking for one' => $asks_first, 'unserialize first' => $unserialize_first,
        'own class from an autoloader' => $autoloaded, 'an autoloader without it' => $other_autoloader,
        'nothing asked yet' => $listed] as $what => $code) {
        echo "-- $what\n", script($code, $ini), "\n";
    }
}
echo "upstream calls: ", stats($appid)['token_calls'], "\n";
forget_token("coexist_$appid");
reset_account($appid);
?>
--EXPECTF--
== opcache off
-- own class
class_weixin: its own method, internal: no
-- own class, declared in a condition
its own method
-- no class of its own
var_dump: object(class_weixin)#%d (3) {
get_class: class_weixin, instanceof: yes, internal: yes, parent: false
serialize: class_weixin, same token: yes
subclass: the same token
class_exists: true, token current: yes
-- own class after asking for one
bool(true)
class_weixin native
-- unserialize first
class_weixin native
-- own class from an autoloader
its own method
-- an autoloader without it
autoloader asked for class_weixin
class_weixin native
-- nothing asked yet
WeixinException,class_weixin_native,class_weixin; declared: listed; without autoloading: false
== opcache on
-- own class
class_weixin: its own method, internal: no
-- own class, declared in a condition
its own method
-- no class of its own
var_dump: object(class_weixin)#%d (3) {
get_class: class_weixin, instanceof: yes, internal: yes, parent: false
serialize: class_weixin, same token: yes
subclass: the same token
class_exists: true, token current: yes
-- own class after asking for one
bool(true)
class_weixin native
-- unserialize first
class_weixin native
-- own class from an autoloader
its own method
-- an autoloader without it
autoloader asked for class_weixin
class_weixin native
-- nothing asked yet
WeixinException,class_weixin_native,class_weixin; declared: listed; without autoloading: false
upstream calls: 1
