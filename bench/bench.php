<?php
/*
 * One benchmark measurement, in its own process:
 *   php bench.php VARIANT ITERATIONS
 * prints one JSON object. VARIANT is one of:
 *   floor      new stdClass() (an empty internal class: the PHP floor)
 *   legacy     the userland baseline (bench/legacy_weixin.php; run without the extension)
 *   extension  new class_weixin() with the process-local cache (weixin.local_cache_ttl default)
 *   no-local   the same with weixin.local_cache_ttl=0 (every construction asks memcached)
 *   no-local-text       the same with weixin.memcache_protocol=text (classic `get KEY KEY:meta`)
 *   no-local-twemproxy  the same through twemproxy (weixin.memcache_protocol=auto: classic)
 *   raw-get    Memcache::get on one persistent PECL connection (a memcached round trip from PHP)
 *   raw-get-twemproxy   the same through twemproxy
 *   memory     RSS and Zend heap before and after ITERATIONS constructions
 *   rotation   php bench.php rotation SECONDS APPID: a daemon constructing every 5 ms
 *              for SECONDS after a cold start (not counted), across the token's
 *              rotations: the longest construction and p99.9 (ms), the tokens seen
 * Environment: BENCH_MEMCACHED (host:port), BENCH_API (stand-in URL), BENCH_TWEMPROXY
 * (host:port, for raw-get-twemproxy).
 */
[$host, $port] = explode(':', getenv('BENCH_MEMCACHED'));
define('BENCH_MEMCACHED_HOST', $host);
define('BENCH_MEMCACHED_PORT', (int) $port);
define('BENCH_API', getenv('BENCH_API'));
define('APPID', 'wxbench00000000001');
define('APPSECRET', '0123456789abcdef0123456789abcdef');

$variant = $argv[1];
$n = (int) $argv[2];

function rss_kib(): int
{
    return preg_match('/VmRSS:\s+(\d+)/', file_get_contents('/proc/self/status'), $m) ? (int) $m[1] : 0;
}

function timed(int $n, callable $body): float
{
    $body(min(1000, $n)); // warm up: connections, caches, JIT-free opcode caches
    $start = hrtime(true);
    $body($n);
    return (hrtime(true) - $start) / $n;
}

switch ($variant) {
    case 'floor':
        $ns = timed($n, function ($n) { for ($i = 0; $i < $n; $i++) { $o = new stdClass(); } });
        break;
    case 'legacy':
        require __DIR__ . '/legacy_weixin.php';
        $ns = timed($n, function ($n) { for ($i = 0; $i < $n; $i++) { $o = new class_weixin(); } });
        break;
    case 'extension':
    case 'no-local':
    case 'no-local-text':
    case 'no-local-twemproxy':
    case 'extension-before':
    case 'no-local-before':
        $ns = timed($n, function ($n) { for ($i = 0; $i < $n; $i++) { $o = new class_weixin(); } });
        break;
    case 'raw-get':
    case 'raw-get-twemproxy':
        $memcache = new Memcache();
        [$getHost, $getPort] = $variant === 'raw-get' ? [$host, $port] : explode(':', getenv('BENCH_TWEMPROXY'));
        @$memcache->pconnect($getHost, (int) $getPort);
        $ns = timed($n, function ($n) use ($memcache) { for ($i = 0; $i < $n; $i++) { $t = $memcache->get('access_token'); } });
        break;
    case 'memory':
        for ($i = 0; $i < 1000; $i++) { $o = new class_weixin(); }
        gc_collect_cycles();
        $before = ['rss' => rss_kib(), 'heap' => memory_get_usage()];
        $start = hrtime(true);
        for ($i = 0; $i < $n; $i++) { $o = new class_weixin(); }
        $ns = (hrtime(true) - $start) / $n;
        gc_collect_cycles();
        echo json_encode(['ns' => $ns, 'rss_before_kib' => $before['rss'], 'rss_after_kib' => rss_kib(),
            'heap_before' => $before['heap'], 'heap_after' => memory_get_usage()]), "\n";
        exit;
    case 'rotation':
        $appid = $argv[3];
        $first = new class_weixin($appid, APPSECRET); // the cold start: it waits for WeChat
        $tokens = [$first->access_token => 1];
        $times = [];
        $end = hrtime(true) + (int) ($n * 1e9);
        while (hrtime(true) < $end) {
            $start = hrtime(true);
            $o = new class_weixin($appid, APPSECRET);
            $times[] = hrtime(true) - $start;
            $tokens[$o->access_token] = 1;
            usleep(5000);
        }
        sort($times);
        echo json_encode(['ns' => end($times), 'constructions' => count($times), 'max_ms' => end($times) / 1e6,
            'p999_ms' => $times[max(0, (int) ceil(0.999 * count($times)) - 1)] / 1e6, 'tokens' => count($tokens)]), "\n";
        exit;
    default:
        fwrite(STDERR, "unknown variant $variant\n");
        exit(2);
}
echo json_encode(['ns' => $ns]), "\n";
