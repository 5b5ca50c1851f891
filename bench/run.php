<?php
/*
 * Orchestrates the benchmark (bench/run.sh starts the services): every
 * variant in its own process, trials interleaved, medians reported, then
 * php-fpm throughput and memory. Prints a markdown report.
 */
require __DIR__ . '/../php-tests/fpm.inc';

$ext = getenv('WEIXIN_TEST_EXT');
$common = ['weixin.memcache_servers' => getenv('BENCH_MEMCACHED'), 'weixin.api_base_url' => getenv('BENCH_API')];

function php_run(array $ini, array $args): array
{
    $command = [PHP_BINARY];
    foreach ($ini as $name => $value) array_push($command, '-d', "$name=$value");
    $command = array_merge($command, [__DIR__ . '/bench.php'], $args);
    $out = shell_exec(implode(' ', array_map('escapeshellarg', $command)));
    $result = json_decode((string) $out, true);
    if (!is_array($result)) throw new RuntimeException('benchmark process failed: ' . implode(' ', $command) . "\n$out");
    return $result;
}

$withExt = ['extension' => $ext] + $common;
$variants = [
    // name => [ini, iterations]
    'floor' => [[], 2000000],
    // The baseline leaks a connection per construction: past ~1000 in one
    // process PECL memcache aborts (fd over FD_SETSIZE), so it runs 400.
    'legacy' => [[], 400],
    'extension' => [$withExt, 1000000],
    'no-local' => [$withExt + ['weixin.local_cache_ttl' => '0'], 20000],
    // The classic text protocol against the same memcached: `get KEY KEY:meta`.
    'no-local-text' => [$withExt + ['weixin.local_cache_ttl' => '0', 'weixin.memcache_protocol' => 'text'], 20000],
    'raw-get' => [[], 20000],
];
// Through twemproxy (bench/run.sh starts it if it can): the extension finds
// out by itself that it must speak classic, and the raw get goes through the
// same proxy, so their ratio is like for like.
$twemproxy = getenv('BENCH_TWEMPROXY');
if ($twemproxy) {
    $variants['no-local-twemproxy'] = [['weixin.memcache_servers' => $twemproxy] + $withExt
        + ['weixin.local_cache_ttl' => '0', 'weixin.memcache_protocol' => 'auto'], 20000];
    $variants['raw-get-twemproxy'] = [[], 20000];
}
// The same build figures for another revision (bench/run.sh --against REV).
$against = getenv('BENCH_AGAINST_EXT');
if ($against) {
    $variants['extension-before'] = [['extension' => $against] + $common, 1000000];
    $variants['no-local-before'] = [['extension' => $against] + $common + ['weixin.local_cache_ttl' => '0'], 20000];
}
// A cached token for everyone: the extension writes the legacy key `access_token`.
php_run($withExt, ['extension', '1']);
$tokenCalls = function () {
    $stats = json_decode((string) file_get_contents(getenv('BENCH_API') . '/__admin/stats?appid=wxbench00000000001'), true);
    return ($stats['token_calls'] ?? 0) + ($stats['stable_calls'] ?? 0);
};
$primed = $tokenCalls();

$trials = 5;
$samples = [];
for ($t = 0; $t < $trials; $t++) {
    foreach ($variants as $name => [$ini, $n]) {
        $samples[$name][] = php_run($ini, [$name, (string) $n])['ns'];
    }
}
$ns = array_map(function ($list) { sort($list); return $list[intdiv(count($list), 2)]; }, $samples);
// Every variant read the primed token: had one asked WeChat, its figure would
// be a token request's, not a memcached read's.
$asked = $tokenCalls() - $primed;

// php-fpm throughput: a page that constructs the class and prints the token.
$page = '<?php echo (new class_weixin())->access_token;';
$legacyPage = "<?php define('BENCH_MEMCACHED_HOST', '" . explode(':', getenv('BENCH_MEMCACHED'))[0] . "');"
    . " define('BENCH_MEMCACHED_PORT', " . explode(':', getenv('BENCH_MEMCACHED'))[1] . ");"
    . " define('BENCH_API', '" . getenv('BENCH_API') . "'); define('APPID', 'wxbench00000000001');"
    . " define('APPSECRET', '0123456789abcdef0123456789abcdef'); require '" . __DIR__ . "/legacy_weixin.php';"
    . " echo (new class_weixin())->access_token;";
$extPage = "<?php define('APPID', 'wxbench00000000001'); define('APPSECRET', '0123456789abcdef0123456789abcdef');"
    . " echo (new class_weixin())->access_token;";
// The floor: a page that prints a fixed string (the cost of php-fpm, nginx and
// wrk themselves on this machine).
$floorPage = "<?php echo 'x';";
$fpm = [];
$pages = ['legacy' => [$legacyPage, ['extension' => false]], 'extension' => [$extPage, []], 'floor' => [$floorPage, []]];
foreach ($pages as $name => [$source, $ini]) {
    $site = fpm_start($source, $ini + $common, 4);
    wrk_run($site['url'], 8, 1); // warm up the workers
    $fpm[$name] = wrk_run($site['url'], 16, 5);
    fpm_stop($site);
}

// Rotations: tokens of 10 s due after 5 s (weixin.refresh_margin=5), the
// stand-in answering token requests in 1 s, each build measured on an
// account of its own, over 13 s after its cold start: two rotations. A CLI
// daemon constructs every 5 ms; php-fpm (4 workers, nginx) serves a page
// that constructs the class to wrk (8 connections), beside the floor page
// loaded the same way in the same run.
const ROTATION_SECONDS = 13;
function standin_admin(string $op, array $query): array
{
    return json_decode((string) file_get_contents(getenv('BENCH_API') . "/__admin/$op?" . http_build_query($query)), true);
}
function rotation_account(): string
{
    $appid = 'wxrot' . bin2hex(random_bytes(6)) . '0';
    standin_admin('reset', ['appid' => $appid]);
    standin_admin('configure', ['appid' => $appid, 'expires_in' => 10, 'delay_ms' => 1000]);
    return $appid;
}
$rotationIni = ['weixin.cache_key' => 'rot_{appid}', 'weixin.refresh_margin' => '5'];
$rotationBuilds = ['extension' => $withExt + $rotationIni];
if ($against) {
    $rotationBuilds['before'] = ['extension' => $against] + $common + $rotationIni;
}
$rotation = [];
foreach ($rotationBuilds as $name => $ini) {
    $appid = rotation_account();
    $rotation[$name]['cli'] = php_run($ini, ['rotation', (string) ROTATION_SECONDS, $appid])
        + ['rotations' => standin_admin('stats', ['appid' => $appid])['token_calls'] - 1];
}
foreach ($rotationBuilds + ['floor' => ['extension' => $ext] + $common] as $name => $ini) {
    $appid = rotation_account();
    $source = $name === 'floor' ? "<?php echo 'x';"
        : "<?php echo (new class_weixin('$appid', '0123456789abcdef0123456789abcdef'))->access_token;";
    $site = fpm_start($source, $ini, 4);
    file_get_contents($site['url']); // the cold start (one request waits for WeChat): not measured
    $rotation[$name]['fpm'] = wrk_run($site['url'], 8, ROTATION_SECONDS)
        + ['rotations' => standin_admin('stats', ['appid' => $appid])['token_calls'] - 1];
    fpm_stop($site);
}

$memory = php_run($withExt, ['memory', '1000000']);

// The report.
$cpu = preg_match('/model name\s*:\s*(.+)/', (string) @file_get_contents('/proc/cpuinfo'), $m) ? trim($m[1]) : php_uname('m');
printf("Machine: %s, %d cores, %s; PHP %s; %s\n\n", $cpu, (int) shell_exec('nproc'), php_uname('s') . ' ' . php_uname('r'),
    PHP_VERSION, trim((string) shell_exec('memcached -V')));
echo "Per construction (median of $trials runs, each in its own process):\n\n";
echo "| variant | µs per construction | vs legacy baseline | vs PHP floor |\n|---|---:|---:|---:|\n";
$labels = [
    'legacy' => 'legacy baseline (PHP: connect + get per construction)',
    'extension' => 'extension, warm (process-local cache)',
    'no-local' => 'extension, `weixin.local_cache_ttl=0` (memcached each time)',
    'no-local-text' => 'extension, `weixin.local_cache_ttl=0`, `weixin.memcache_protocol=text` (classic `get`)',
    'raw-get' => 'raw PECL `Memcache::get` on a persistent connection',
];
if ($twemproxy) {
    $labels['no-local-twemproxy'] = 'extension, `weixin.local_cache_ttl=0`, through twemproxy (`auto`: classic)';
    $labels['raw-get-twemproxy'] = 'raw PECL `Memcache::get` through the same twemproxy';
}
$labels['floor'] = '`new stdClass()` (PHP floor)';
if ($against) {
    $rev = getenv('BENCH_AGAINST_REV');
    $labels['extension-before'] = "extension at `$rev`, warm";
    $labels['no-local-before'] = "extension at `$rev`, `weixin.local_cache_ttl=0`";
}
foreach ($labels as $name => $label) {
    printf("| %s | %.3f | %s | %.1f× |\n", $label, $ns[$name] / 1000,
        $name === 'legacy' ? '1×' : sprintf('%.0f× faster', $ns['legacy'] / $ns[$name]), $ns[$name] / $ns['floor']);
}
printf("\nRatios: warm extension is %.0f× faster than the baseline (target ≥ 50×) and %.1f× the PHP floor (aim ≤ 3×);"
    . " with `local_cache_ttl=0` it takes %.2f× a raw PECL get (target ≤ 1.2×).\n\n",
    $ns['legacy'] / $ns['extension'], $ns['extension'] / $ns['floor'], $ns['no-local'] / $ns['raw-get']);
printf("Classic text protocol (`weixin.memcache_protocol=text`, one `get KEY KEY:meta` per construction):"
    . " %.2f× a raw PECL get, %.2f× the meta path.\n\n", $ns['no-local-text'] / $ns['raw-get'], $ns['no-local-text'] / $ns['no-local']);
if ($twemproxy) {
    printf("Through twemproxy (`auto`: classic): %.2f× a raw PECL get through the same twemproxy"
        . " (which itself takes %.2f× a direct raw get).\n\n", $ns['no-local-twemproxy'] / $ns['raw-get-twemproxy'],
        $ns['raw-get-twemproxy'] / $ns['raw-get']);
}
if ($asked !== 0) {
    printf("WARNING: the stand-in served %s token requests during the trials: some figures include them.\n\n",
        var_export($asked, true));
}
if ($against) {
    printf("This build against `%s`, same run: warm %.2f×, `local_cache_ttl=0` %.2f× (time per construction; under 1 is faster).\n\n",
        getenv('BENCH_AGAINST_REV'), $ns['extension'] / $ns['extension-before'], $ns['no-local'] / $ns['no-local-before']);
}
echo "php-fpm (4 workers) behind nginx, wrk 16 connections for 5 s, a page that constructs the class and prints the token:\n\n";
echo "| page | requests/s | p50 ms | p99 ms | failed |\n|---|---:|---:|---:|---:|\n";
$pageLabels = ['legacy' => 'legacy baseline', 'extension' => 'extension', 'floor' => "floor (`<?php echo 'x';`)"];
foreach ($fpm as $name => $r) {
    printf("| %s | %.0f | %.2f | %.2f | %d |\n", $pageLabels[$name], $r['rps'], $r['p50_ms'], $r['p99_ms'], $r['failed']);
}
printf("\nThroughput ratio: extension / baseline = %.2f×; extension / floor page = %.2f×.\n\n",
    $fpm['extension']['rps'] / $fpm['legacy']['rps'], $fpm['extension']['rps'] / $fpm['floor']['rps']);
echo "Rotations: 10-s tokens due after 5 s, the stand-in answering token requests in 1 s, ", ROTATION_SECONDS,
    " s after a cold start (not measured). CLI: a daemon constructing every 5 ms; php-fpm: 4 workers behind nginx,"
    . " wrk 8 connections, the floor page loaded the same way in the same run:\n\n";
echo "| build | rotations | CLI constructions | CLI longest ms | CLI p99.9 ms | php-fpm requests | php-fpm slowest ms | php-fpm p99.9 ms | failed |\n"
    . "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
$rotationLabels = ['extension' => 'this build', 'before' => $against ? 'at `' . getenv('BENCH_AGAINST_REV') . '`' : '',
    'floor' => "floor page (`<?php echo 'x';`)"];
foreach ($rotation as $name => $r) {
    $cli = $r['cli'] ?? null;
    printf("| %s | %s | %s | %s | %s | %d | %.1f | %.1f | %d |\n", $rotationLabels[$name],
        $cli ? "{$cli['rotations']} / {$r['fpm']['rotations']}" : '—', $cli ? $cli['constructions'] : '—',
        $cli ? sprintf('%.2f', $cli['max_ms']) : '—', $cli ? sprintf('%.2f', $cli['p999_ms']) : '—',
        $r['fpm']['requests'], $r['fpm']['max_ms'], $r['fpm']['p999_ms'], $r['fpm']['failed']);
}
printf("\nTargets: after the cold start no construction over 5 ms in the CLI loop (longest %.2f ms); no php-fpm request"
    . " above the floor page's slowest plus 50 ms (%.1f ms against %.1f + 50).\n\n", $rotation['extension']['cli']['max_ms'],
    $rotation['extension']['fpm']['max_ms'], $rotation['floor']['fpm']['max_ms']);
printf("Memory over 1,000,000 warm constructions: RSS %+d KiB (%d → %d KiB), Zend heap %+d bytes (target: under 2 MiB RSS growth).\n",
    $memory['rss_after_kib'] - $memory['rss_before_kib'], $memory['rss_before_kib'], $memory['rss_after_kib'],
    $memory['heap_after'] - $memory['heap_before']);
