--TEST--
make install / make uninstall for the PHP running the test: weixin.so in its extension dir, weixin.ini where it reads it (Debian's PHP: mods-available, enabled for every SAPI; built from source: its scan dir), loaded by its CLI and FPM, then all removed
--SKIPIF--
<?php
if (getenv('USE_ZEND_ALLOC') === '0') die('skip installs into the PHP running it: not under valgrind');
// The php-config of this PHP (make installs for the PHP its PHP_CONFIG names).
$binary = realpath(PHP_BINARY);
$found = null;
foreach ([getenv('PHP_CONFIG') ?: 'php-config', dirname($binary) . '/php-config' . substr(basename($binary), 3)] as $config) {
    $named = trim((string) shell_exec(escapeshellarg($config) . ' --php-binary 2>/dev/null'));
    if ($named !== '' && realpath($named) === $binary) { $found = $config; break; }
}
if ($found === null) die("skip no php-config for $binary (PHP_CONFIG names another PHP or none)");
if (trim((string) shell_exec('command -v make')) === '') die('skip make is not installed');
if (file_exists(PHP_EXTENSION_DIR . '/weixin.so')) {
    die('skip weixin.so is already installed in ' . PHP_EXTENSION_DIR . ' (a package\'s, see dpkg -S; or an earlier make install: make uninstall): not touching it');
}
// make install writes there (and phpenmod into every conf.d): without write access it cannot.
$debian = PHP_PREFIX === '/usr' && is_dir('/etc/php/' . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION);
$targets = [PHP_EXTENSION_DIR];
if ($debian) {
    $targets = array_merge($targets, ['/etc/php/' . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION . '/mods-available'],
        glob('/etc/php/' . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION . '/*/conf.d'));
} elseif (PHP_CONFIG_FILE_SCAN_DIR !== '') {
    $targets[] = PHP_CONFIG_FILE_SCAN_DIR;
}
foreach ($targets as $dir) {
    while (!file_exists($dir) && dirname($dir) !== $dir) $dir = dirname($dir); // install -D creates the rest
    if (!is_writable($dir)) die("skip cannot install for this PHP: $dir is not writable (make install needs root here)");
}
?>
--FILE--
<?php
require __DIR__ . '/fpm.inc';
$root = dirname(__DIR__);
$version = PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION;
$binary = realpath(PHP_BINARY);

// The same php-config as SKIPIF found; named to make only when the environment
// does not already name it (a PHP_CONFIG that changes makes cargo rebuild).
$inherited = getenv('PHP_CONFIG') ?: 'php-config';
$config = null;
foreach ([$inherited, dirname($binary) . '/php-config' . substr(basename($binary), 3)] as $candidate) {
    $named = trim((string) shell_exec(escapeshellarg($candidate) . ' --php-binary 2>/dev/null'));
    if ($named !== '' && realpath($named) === $binary) { $config = $candidate; break; }
}
$make = 'make -s -C ' . escapeshellarg($root) . ($config === $inherited ? '' : ' PHP_CONFIG=' . escapeshellarg($config));
// The build the suite tests (scripts/test.sh names it) is the one installed, and
// make does not run cargo (-o build): a build in the test could outlast its time.
$built = getenv('WEIXIN_TEST_EXT');
if ($built !== false && is_file($built)) $make .= ' -o build LIBRARY=' . escapeshellarg($built);
register_shutdown_function(fn () => shell_exec("$make uninstall 2>&1"));

// Where this PHP reads weixin.ini: Debian's PHP (prefix /usr): mods-available,
// linked from every SAPI's conf.d by phpenmod; a PHP built from source: its scan
// dir; without a scan dir make installs none and says so (then extension=weixin
// is the user's to add: the SAPIs are checked with -d extension=weixin).
$debian = PHP_PREFIX === '/usr' && is_dir("/etc/php/$version");
$scanDir = PHP_CONFIG_FILE_SCAN_DIR;
$ini = $debian ? "/etc/php/$version/mods-available/weixin.ini" : ($scanDir !== '' ? "$scanDir/weixin.ini" : null);
$load = $ini === null ? ' -d extension=weixin' : '';
$so = PHP_EXTENSION_DIR . '/weixin.so';

/** conf.d links to weixin.ini in every SAPI of Debian's PHP X.Y: [sapi => linked?] */
function debian_links(string $version, string $ini): array
{
    $links = [];
    foreach (glob("/etc/php/$version/*/conf.d", GLOB_ONLYDIR) as $confd) {
        $linked = false;
        foreach (glob("$confd/*weixin.ini") as $link) $linked = $linked || (is_link($link) && readlink($link) === $ini);
        $links[basename(dirname($confd))] = $linked;
    }
    return $links;
}

/** [SAPI name => command] of this PHP: its CLI, and its php-fpm when it has one. */
function sapis(string $binary): array
{
    $sapis = ['cli' => escapeshellarg($binary)];
    try {
        $sapis['fpm'] = escapeshellarg(fpm_binary());
    } catch (RuntimeException $e) {
        // no php-fpm for this PHP: the CLI only
    }
    return $sapis;
}

/** The SAPIs among $sapis that load weixin (only what the configuration loads, plus $load). */
function loading(array $sapis, string $load): array
{
    return array_keys(array_filter($sapis,
        fn ($command) => preg_match('/^weixin$/m', (string) shell_exec("$command$load -m 2>&1")) === 1));
}

function verdict(bool $ok, string $detail): string
{
    return $ok ? 'yes' : "no ($detail)";
}

exec("$make install 2>&1", $out, $status);
echo "install: exit $status\n";
if ($status !== 0) echo implode("\n", array_slice($out, -15)), "\n";
echo "weixin.so in this PHP's extension dir: ", verdict(file_exists($so), "no $so"), "\n";

if ($debian) {
    $links = debian_links($version, $ini);
    $placed = file_exists($ini) && $links && !in_array(false, $links, true);
    $detail = (file_exists($ini) ? '' : "no $ini; ") . 'linked in ' . json_encode($links);
} elseif ($ini !== null) {
    $placed = file_exists($ini);
    $detail = "no $ini";
} else {
    // No scan dir: nothing installed, and make said why.
    $placed = str_contains(implode("\n", $out), 'no scan dir');
    $detail = 'make did not say this PHP has no scan dir';
}
echo "weixin.ini where this PHP reads it: ", verdict($placed, $detail), "\n";
$settings = (string) @file_get_contents($ini ?? "$root/weixin.ini");
echo "every setting documented: ", preg_match_all('/^;weixin\.\w+ =/m', $settings) === count(ini_get_all('weixin')) ? 'yes' : 'no', "\n";

$sapis = sapis($binary);
$loaded = loading($sapis, $load);
echo "loaded by every SAPI of this PHP: ", verdict($loaded === array_keys($sapis), 'loaded by ' . json_encode($loaded) . ' of ' . json_encode(array_keys($sapis))), "\n";
$info = (string) shell_exec(escapeshellarg($binary) . "$load --ri weixin 2>&1");
echo "php --ri weixin: ", str_contains($info, 'weixin support => enabled') ? 'ok' : 'missing', "\n";

exec("$make uninstall 2>&1", $out, $status);
echo "uninstall: exit $status\n";
$left = array_filter([$so, $ini], fn ($file) => $file !== null && file_exists($file));
if ($debian) $left = array_merge($left, glob("/etc/php/$version/*/conf.d/*weixin.ini"));
echo "files gone: ", verdict(!$left, 'left: ' . implode(', ', $left)), "\n";
$loaded = loading($sapis, '');
echo "loaded by no SAPI: ", verdict(!$loaded, 'loaded by ' . json_encode($loaded)), "\n";
?>
--EXPECT--
install: exit 0
weixin.so in this PHP's extension dir: yes
weixin.ini where this PHP reads it: yes
every setting documented: yes
loaded by every SAPI of this PHP: yes
php --ri weixin: ok
uninstall: exit 0
files gone: yes
loaded by no SAPI: yes
