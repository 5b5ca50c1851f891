--TEST--
Self-healing http_request(): an API refusing a token this extension handed out (40001, 40014, 42001) gets the token replaced once for the fleet (compare first) and the same request sent once more (GET, JSON body, multipart upload), $this->access_token updated, through a subclass's override too; never for another errcode, a second time, a URL without a token or with one never handed out, or with weixin.auto_refresh=0
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs many processes: not under valgrind'); ?>
--INI--
weixin.cache_key=heal_{appid}
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';

class Api extends class_weixin
{
    public int $calls = 0;

    protected function http_request($url, $data = null)
    {
        $this->calls++;
        return parent::http_request($url, $data);
    }

    public function http_request_public(string $url)
    {
        return $this->http_request($url);
    }

    public function call(string $path, $data = null, array $query = []): array
    {
        $url = getenv('WEIXIN_TEST_API') . $path . '?' . http_build_query($query + ['access_token' => $this->access_token]);
        $reply = $this->http_request($url, $data);
        return is_string($reply) ? (json_decode($reply, true) ?? ['raw' => $reply]) : ['false' => true];
    }
}

function retries(): int
{
    ob_start();
    (new ReflectionExtension('weixin'))->info();
    preg_match('/^http_request\(\) retries after a refused token => (\d+)$/m', ob_get_clean(), $m);
    return (int) ($m[1] ?? -1);
}

/** Someone else asks WeChat for a token: the shared one is refused from now on. */
function replaced_elsewhere(string $appid): void
{
    standin('/cgi-bin/token', ['grant_type' => 'client_credential', 'appid' => $appid, 'secret' => TEST_SECRET]);
}

$appid = test_appid('heal');
reset_account($appid);
$api = new Api($appid, TEST_SECRET);

// 1. GET.
$old = $api->access_token;
replaced_elsewhere($appid);
$before = stats($appid);
$reply = $api->call('/cgi-bin/getcallbackip');
$after = stats($appid);
echo "GET: ", isset($reply['ip_list']) ? 'served' : json_encode($reply), ", refused first: ", $after['api_rejected'] - $before['api_rejected'],
    ", token requests +", $after['token_calls'] - $before['token_calls'],
    ", \$this->access_token is the new current one: ", $api->access_token !== $old && token_is_current($api->access_token) ? 'yes' : 'no',
    ", shared: ", get_raw("heal_$appid") === $api->access_token ? 'yes' : 'no', ", override called: {$api->calls}, retries: ", retries(), "\n";

// 2. POST, a JSON string body, sent again as it was.
replaced_elsewhere($appid);
$reply = $api->call('/cgi-bin/message/template/send', json_encode(['touser' => 'o1', 'template_id' => 't']));
echo "POST JSON: errcode ", $reply['errcode'] ?? '-', ", msgid: ", isset($reply['msgid']) ? 'yes' : 'no', ", retries: ", retries(), "\n";

// 3. POST multipart with a file, the file sent again.
$file = tempnam(sys_get_temp_dir(), 'wxheal');
file_put_contents($file, random_bytes(3000));
replaced_elsewhere($appid);
$reply = $api->call('/cgi-bin/media/upload', ['media' => new CURLFile($file, 'image/png', 'a.png')], ['type' => 'image']);
echo "multipart: the file arrived whole: ", ($reply['x_md5'] ?? '') === md5_file($file) ? 'yes' : json_encode($reply), ", retries: ", retries(), "\n";
unlink($file);

// 4. A fleet: 20 processes holding the same refused token at once; one
// upstream request replaces it, every call is served.
$token = (new class_weixin($appid, TEST_SECRET))->access_token;
replaced_elsewhere($appid);
$before = stats($appid);
$results = run_parallel(20, '
    class Api2 extends class_weixin { public function get($u) { return $this->http_request($u); } }
    $w = new Api2(getenv("APPID"), TEST_SECRET);
    $r = json_decode((string) $w->get(getenv("WEIXIN_TEST_API") . "/cgi-bin/getcallbackip?access_token=" . $w->access_token), true);
    echo isset($r["ip_list"]) ? "served" : json_encode($r);', ['weixin.cache_key' => 'heal_{appid}', 'weixin.local_cache_ttl' => '0'], ['APPID' => $appid]);
$after = stats($appid);
echo "20 processes: ", json_encode(array_count_values(array_column($results, 'out'))), ", token requests +", $after['token_calls'] - $before['token_calls'],
    ", errors: ", count(array_filter($results, fn ($r) => $r['err'] !== '')), "\n";

// 5. Never: another errcode, a second time, no token, a token never
// handed out, auto_refresh off. The echo endpoint answers what it is told.
$echo = fn (string $errcode, array $query) => $api->call('/__echo/api', null, $query + ['reply' => "{\"errcode\":$errcode,\"errmsg\":\"x\"}"]);
$count = function (callable $call) use ($appid) {
    $before = [stats($appid)['token_calls'], retries()];
    $reply = $call();
    return ($reply['errcode'] ?? '-') . ' (token requests +' . (stats($appid)['token_calls'] - $before[0]) . ', retries +' . (retries() - $before[1]) . ')';
};
foreach (['40164', '45009', '-1', '0'] as $code) {
    echo "errcode $code: ", $count(fn () => $echo($code, [])), "\n";
}
// $api still holds the token of 3; the fleet replaced it since: the shared
// token is adopted without a request, sent once, refused again, returned.
echo "40001 every time: ", $count(fn () => $echo('40001', [])), "\n";
echo "40014 with no token in the URL: ", $count(fn () => json_decode($api->http_request_public(getenv('WEIXIN_TEST_API') . '/__echo/x?reply=' . urlencode('{"errcode":40014}')), true)), "\n";
echo "42001 for a token never handed out: ", $count(fn () => $echo('42001', ['access_token' => 'NEVER-ISSUED-' . bin2hex(random_bytes(8))])), "\n";
ini_set('weixin.auto_refresh', '0');
echo "40001 with weixin.auto_refresh=0: ", $count(fn () => $echo('40001', [])), "\n";
?>
--EXPECT--
GET: served, refused first: 1, token requests +1, $this->access_token is the new current one: yes, shared: yes, override called: 1, retries: 1
POST JSON: errcode 0, msgid: yes, retries: 2
multipart: the file arrived whole: yes, retries: 3
20 processes: {"served":20}, token requests +1, errors: 0
errcode 40164: 40164 (token requests +0, retries +0)
errcode 45009: 45009 (token requests +0, retries +0)
errcode -1: -1 (token requests +0, retries +0)
errcode 0: 0 (token requests +0, retries +0)
40001 every time: 40001 (token requests +0, retries +1)
40014 with no token in the URL: 40014 (token requests +0, retries +0)
42001 for a token never handed out: 42001 (token requests +0, retries +0)
40001 with weixin.auto_refresh=0: 40001 (token requests +0, retries +0)
