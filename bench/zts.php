<?php
/*
 * The ZTS figure (bench/run.sh --zts, on a thread-safe PHP with the embed
 * SAPI: scripts/matrix.sh exec zts bench/run.sh --zts): THREADS threads of
 * one embedded PHP (php-tests/zts/harness.c), each request constructing
 * class_weixin a few times, as a page does, while one thread's requests
 * ini_set() a weixin.* value, as one host's script on a threaded server
 * may. Reports constructions per second (median of interleaved trials) and
 * how often the settings were read, for this build and, with --against,
 * the other. Prints markdown.
 */
require __DIR__ . '/../php-tests/zts/harness.inc';

const THREADS = 4;
const REQUESTS = 400;
const CONSTRUCTIONS = 5;
const TRIALS = 5;
const APPID = 'wxbench00000000001';
const SECRET = '0123456789abcdef0123456789abcdef';

if ($why = zts_unavailable()) {
    fwrite(STDERR, "bench/zts.php: $why\n");
    exit(1);
}
$harness = zts_build_harness();
$builds = ['this build' => getenv('WEIXIN_TEST_EXT')];
if (getenv('BENCH_AGAINST_EXT')) {
    $builds[getenv('BENCH_AGAINST_REV')] = getenv('BENCH_AGAINST_EXT');
}
$env = ['ZTS_APPIDS' => APPID, 'ZTS_SECRET' => SECRET, 'ZTS_CONSTRUCTIONS' => (string) CONSTRUCTIONS,
    'ZTS_INI_SET_THREAD' => '0'];
$rates = $reads = [];
for ($trial = 0; $trial < TRIALS; $trial++) {
    foreach ($builds as $name => $ext) {
        $start = hrtime(true);
        $run = zts_run($harness, THREADS, REQUESTS, $env, ['extension' => $ext]);
        $seconds = (hrtime(true) - $start) / 1e9;
        $served = array_sum(zts_tokens($run, APPID));
        if ($run['status'] !== 0 || $served !== THREADS * REQUESTS * CONSTRUCTIONS) {
            fwrite(STDERR, "bench/zts.php: $name: exit {$run['status']}, $served constructions served\n{$run['err']}\n");
            exit(1);
        }
        $rates[$name][] = $served / $seconds;
        $counted = [];
        foreach ($run['threads'] as $requests) {
            foreach ($requests as $request) {
                $counted[] = (int) ($request['ini']['settings_read'] ?? 0);
            }
        }
        $reads[$name] = max($counted) ?: null;
    }
}
zts_remove_harness($harness);
$median = function (array $list) { sort($list); return $list[intdiv(count($list), 2)]; };
printf("\n### ZTS: %d threads x %d requests x %d constructions, one thread's requests calling ini_set()\n\n",
    THREADS, REQUESTS, CONSTRUCTIONS);
echo "| build | constructions/s (median of ", TRIALS, ", whole process) | settings read (one run) |\n| --- | ---: | ---: |\n";
foreach ($builds as $name => $ext) {
    printf("| %s | %s | %s |\n", $name, number_format($median($rates[$name])),
        $reads[$name] === null ? 'not counted' : number_format($reads[$name]));
}
if (count($builds) > 1) {
    [$now, $before] = array_keys($builds);
    printf("\nthis build / %s: %.2fx\n", $before, $median($rates[$now]) / $median($rates[$before]));
}
