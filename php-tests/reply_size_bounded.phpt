--TEST--
http_request() reads a reply into PHP's memory piece by piece, up to weixin.max_reply_size and within memory_limit: past either it returns false with a warning naming the setting and the sizes, and the process holds no more than one copy of what it read (a 48 MB reply under memory_limit=32M peaked at 122 MB and ended in a fatal error); 20 MB arrive whole under the defaults, counted by memory_get_usage(); a bad weixin.max_reply_size is named
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip measures the process\'s memory: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';

// Each case in a process of its own: a process's peak RSS (VmHWM) only grows.
$code = <<<'CHILD'
class media extends class_weixin {
    function __construct() {}
    function get(string $url) { return $this->http_request($url); }
}
function peak_rss(): int
{
    preg_match('/^VmHWM:\s+(\d+) kB/m', file_get_contents('/proc/self/status'), $m);
    return (int) $m[1] * 1024;
}
set_error_handler(function ($no, $message) { echo "warning: $message\n"; return true; });
$media = new media();
$media->get(getenv('WEIXIN_TEST_API') . '/__bytes?size=10'); // the HTTP client built, the connection open
[$rss, $usage] = [peak_rss(), memory_get_usage()];
$reply = $media->get(getenv('WEIXIN_TEST_API') . '/__bytes?' . getenv('QUERY'));
echo json_encode([
    'reply' => is_string($reply) ? ['length' => strlen($reply), 'md5' => md5($reply)] : $reply,
    'peak_rss' => peak_rss(), 'rss_growth' => peak_rss() - $rss, 'usage_growth' => memory_get_usage() - $usage,
]), "\n";
CHILD;

/** The stand-in's bytes: byte i is i % 251. */
function expected_md5(int $size): string
{
    return md5(substr(str_repeat(implode(array_map('chr', range(0, 250))), intdiv($size, 251) + 1), 0, $size));
}

/** Runs one case; prints the reply's fate and warnings; returns the figures (null: the child died). */
function fetch(string $what, int $size, bool $chunked, array $ini): ?array
{
    global $code;
    echo "-- $what, ", $chunked ? 'chunked' : 'with its length', ":\n";
    $query = "size=$size" . ($chunked ? '&chunked=1' : '');
    [$result] = run_parallel(1, $code, $ini, ['QUERY' => $query]);
    $lines = explode("\n", trim($result['out']));
    $figures = json_decode(array_pop($lines), true);
    foreach ($lines as $line) {
        echo preg_replace('/127\.0\.0\.1:\d+/', 'HOST:PORT', $line), "\n";
    }
    echo trim($result['err']) === '' ? '' : "stderr: {$result['err']}\n";
    if (!is_array($figures)) {
        echo "the child died\n";
        return null;
    }
    $reply = $figures['reply'];
    echo 'reply: ', is_array($reply)
        ? "{$reply['length']} bytes, intact: " . ($reply['md5'] === expected_md5($size) ? 'yes' : 'no')
        : json_encode($reply), "\n";
    return $figures;
}

$mb = 1 << 20;
foreach ([false, true] as $chunked) {
    $f = fetch('48 MB, memory_limit=32M, weixin.max_reply_size=64M', 48 * $mb, $chunked,
        ['memory_limit' => '32M', 'weixin.max_reply_size' => '64M']);
    if (!$f) {
        continue;
    }
    report(sprintf('reply_size_bounded: 48 MB reply (%s) under memory_limit=32M refused, peak RSS %.1f MB (122 MB and a fatal error before)',
        $chunked ? 'chunked' : 'with its length', $f['peak_rss'] / $mb));
    echo 'peak RSS under 80 MB: ', $f['peak_rss'] < 80 * $mb ? 'yes' : $f['peak_rss'], "\n";
    echo 'what was read is given back: ', $f['usage_growth'] < $mb ? 'yes' : $f['usage_growth'], "\n";
}
foreach ([false, true] as $chunked) {
    fetch('2 MB, weixin.max_reply_size=1M', 2 * $mb, $chunked, ['weixin.max_reply_size' => '1M']);
}
foreach ([false, true] as $chunked) {
    $f = fetch('20 MB under the defaults, memory_limit=128M', 20 * $mb, $chunked, ['memory_limit' => '128M']);
    if (!$f) {
        continue;
    }
    echo 'counted by memory_get_usage(): ', $f['usage_growth'] >= 20 * $mb ? 'yes' : $f['usage_growth'], "\n";
    report(sprintf('reply_size_bounded: 20 MB reply (%s) read whole, peak RSS grew by %.1f MB (42 MB before: the body was copied twice)',
        $chunked ? 'chunked' : 'with its length', $f['rss_growth'] / $mb));
    if (!$chunked) {
        // One copy (a string grown by copying may briefly be two).
        echo 'peak RSS grew by less than 30 MB: ', $f['rss_growth'] < 30 * $mb ? 'yes' : $f['rss_growth'], "\n";
    }
}

echo "-- a weixin.max_reply_size that does not parse or is out of range:\n";
class media extends class_weixin {
    function get(string $url) { return $this->http_request($url); }
}
set_error_handler(function ($no, $message) { echo "  warning: $message\n"; return true; });
foreach (['lots', '0', '2G', '32MB'] as $bad) {
    ini_set('weixin.max_reply_size', $bad);
    try {
        new class_weixin(test_appid('replysize'), TEST_SECRET);
    } catch (WeixinException $e) {
        echo "  exception: ", $e->getMessage(), "\n";
    }
    var_dump((new ReflectionClass('media'))->newInstanceWithoutConstructor()->get(getenv('WEIXIN_TEST_API') . '/__bytes?size=10'));
}
?>
--EXPECTF--
-- 48 MB, memory_limit=32M, weixin.max_reply_size=64M, with its length:
warning: class_weixin::http_request(): the reply of http://HOST:PORT/__bytes was dropped: 50331648 bytes announced would take PHP past memory_limit (33554432 bytes, %d in use; raise it for replies this large)
reply: false
peak RSS under 80 MB: yes
what was read is given back: yes
-- 48 MB, memory_limit=32M, weixin.max_reply_size=64M, chunked:
warning: class_weixin::http_request(): the reply of http://HOST:PORT/__bytes was dropped: %d bytes read so far would take PHP past memory_limit (33554432 bytes, %d in use; raise it for replies this large)
reply: false
peak RSS under 80 MB: yes
what was read is given back: yes
-- 2 MB, weixin.max_reply_size=1M, with its length:
warning: class_weixin::http_request(): the reply of http://HOST:PORT/__bytes was dropped: it announced 2097152 bytes, over weixin.max_reply_size (1048576 bytes)
reply: false
-- 2 MB, weixin.max_reply_size=1M, chunked:
warning: class_weixin::http_request(): the reply of http://HOST:PORT/__bytes was dropped: it went on past weixin.max_reply_size (1048576 bytes)
reply: false
-- 20 MB under the defaults, memory_limit=128M, with its length:
reply: 20971520 bytes, intact: yes
counted by memory_get_usage(): yes
peak RSS grew by less than 30 MB: yes
-- 20 MB under the defaults, memory_limit=128M, chunked:
reply: 20971520 bytes, intact: yes
counted by memory_get_usage(): yes
-- a weixin.max_reply_size that does not parse or is out of range:
  exception: weixin.max_reply_size must be a size in bytes, or with K, M or G (512K, 32M), in [1K, 1G], got 'lots'
  warning: class_weixin::http_request(): weixin.max_reply_size must be a size in bytes, or with K, M or G (512K, 32M), in [1K, 1G], got 'lots'
bool(false)
  exception: weixin.max_reply_size must be a size in bytes, or with K, M or G (512K, 32M), in [1K, 1G], got '0'
  warning: class_weixin::http_request(): weixin.max_reply_size must be a size in bytes, or with K, M or G (512K, 32M), in [1K, 1G], got '0'
bool(false)
  exception: weixin.max_reply_size must be a size in bytes, or with K, M or G (512K, 32M), in [1K, 1G], got '2G'
  warning: class_weixin::http_request(): weixin.max_reply_size must be a size in bytes, or with K, M or G (512K, 32M), in [1K, 1G], got '2G'
bool(false)
  exception: weixin.max_reply_size must be a size in bytes, or with K, M or G (512K, 32M), in [1K, 1G], got '32MB'
  warning: class_weixin::http_request(): weixin.max_reply_size must be a size in bytes, or with K, M or G (512K, 32M), in [1K, 1G], got '32MB'
bool(false)
