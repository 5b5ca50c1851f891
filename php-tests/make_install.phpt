--TEST--
make install / make uninstall: weixin.so in the extension dir, weixin.ini in mods-available, enabled for CLI and FPM, then all removed
--SKIPIF--
<?php
if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs make and cargo: not under valgrind');
if (function_exists('posix_getuid') && posix_getuid() !== 0) die('skip needs root to install into the system PHP');
?>
--FILE--
<?php
require __DIR__ . '/fpm.inc';
$root = dirname(__DIR__);
$version = PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION;
$extensionDir = trim(shell_exec('php-config --extension-dir'));
register_shutdown_function(fn () => shell_exec('make -s -C ' . escapeshellarg($root) . ' uninstall 2>&1'));

function loaded_by(string $command): string
{
    // No -d extension here: only what the installed configuration loads.
    return str_contains((string) shell_exec("$command 2>&1"), 'weixin') ? 'loaded' : 'not loaded';
}

exec('make -s -C ' . escapeshellarg($root) . ' install 2>&1', $out, $status);
echo "install: exit $status\n";
echo "weixin.so installed: ", file_exists("$extensionDir/weixin.so") ? 'yes' : 'no', "\n";
$ini = "/etc/php/$version/mods-available/weixin.ini";
echo "weixin.ini installed: ", file_exists($ini) ? 'yes' : 'no', ", every setting documented: ",
    preg_match_all('/^;weixin\.\w+ =/m', (string) @file_get_contents($ini)) === count(ini_get_all('weixin')) ? 'yes' : 'no', "\n";
echo "CLI: ", loaded_by('php -m'), "\n";
echo "FPM: ", loaded_by(escapeshellarg(fpm_binary()) . ' -m'), "\n";
echo "php --ri weixin: ", str_contains((string) shell_exec('php --ri weixin'), 'weixin support => enabled') ? 'ok' : 'missing', "\n";

exec('make -s -C ' . escapeshellarg($root) . ' uninstall 2>&1', $out, $status);
echo "uninstall: exit $status\n";
echo "files gone: ", !file_exists("$extensionDir/weixin.so") && !file_exists($ini) ? 'yes' : 'no', "\n";
echo "CLI: ", loaded_by('php -m'), "\n";
echo "FPM: ", loaded_by(escapeshellarg(fpm_binary()) . ' -m'), "\n";
?>
--EXPECT--
install: exit 0
weixin.so installed: yes
weixin.ini installed: yes, every setting documented: yes
CLI: loaded
FPM: loaded
php --ri weixin: ok
uninstall: exit 0
files gone: yes
CLI: not loaded
FPM: not loaded
