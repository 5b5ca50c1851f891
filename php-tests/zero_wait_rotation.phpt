--TEST--
Zero-wait rotation: once a token exists, no construction waits for WeChat. The stand-in holds the replacement's request, unanswered, until the test releases it: constructions that return meanwhile did not wait for it. The same for a JS-SDK ticket; a failing replacement (a marker, the current token, no exception) and its warning raised once by a later construction; a script that ends during a replacement (its process waits for it, no longer); a process killed during one (its lock taken over)
--INI--
weixin.cache_key=zw_{appid}
weixin.refresh_margin=59
weixin.token_timeout=30
--FILE--
<?php
require __DIR__ . '/helpers.inc';
// Tokens (and tickets) live 60 s here: due 1 s after they are fetched
// (weixin.refresh_margin=59), served until 54 s. A held request waits for
// the test, not for time: weixin.token_timeout=30 is far beyond it.

/** Constructs until $done($token) says so; [token => times seen], in order. */
function construct_until(string $appid, callable $done, float $seconds = 20): array
{
    $seen = [];
    wait_for(function () use ($appid, $done, &$seen) {
        $token = (new class_weixin($appid, TEST_SECRET))->access_token;
        $seen[$token] = ($seen[$token] ?? 0) + 1;
        return $done($token);
    }, $seconds);
    return $seen;
}

function constructions(string $appid, int $count): array
{
    $tokens = [];
    for ($i = 0; $i < $count; $i++) {
        $tokens[] = (new class_weixin($appid, TEST_SECRET))->access_token;
    }
    return array_values(array_unique($tokens));
}

/** One rotation with its request held (1. over meta commands, 6. over classic ones). */
function held_rotation(string $tag): void
{
    $appid = test_appid($tag);
    $key = "zw_$appid";
    reset_account($appid, ['expires_in' => 60]);
    $first = (new class_weixin($appid, TEST_SECRET))->access_token; // cold: waits, there is nothing to serve
    standin('/__admin/configure', ['appid' => $appid, 'hold' => 1]);
    // Construct until one finds the token due and starts its replacement,
    // whose request the stand-in then holds.
    $seen = construct_until($appid, fn () => stats($appid)['held'] >= 1);
    echo "due: its replacement asked for: ", stats($appid)['held'] === 1 ? 'yes' : 'no',
        ", every construction got the current token: ", array_keys($seen) === [$first] ? 'yes' : json_encode($seen), "\n";
    $during = constructions($appid, 50);
    $s = stats($appid);
    echo "50 constructions while WeChat holds the request: ", $during === [$first] ? 'the current token' : json_encode($during),
        "; the request still held, its client still waiting: ", $s['held'] === 1 && $s['hold_abandoned'] === 0 ? 'yes' : 'no',
        "; under the lock: ", str_starts_with((string) get_raw("$key:lock"), 'wx2 fetch ') ? 'yes' : 'no',
        "; token requests: {$s['token_calls']}\n";
    standin('/__admin/release', ['appid' => $appid]);
    $seen = construct_until($appid, fn ($token) => $token !== $first);
    $new = array_key_last($seen);
    $unlocked = wait_for(fn () => get_raw("$key:lock") === null);
    $s = stats($appid);
    echo "WeChat answered: the new token served: ", $new !== $first && token_is_current($new) ? 'yes' : 'no',
        ", shared in memcached: ", get_raw($key) === $new ? 'yes' : 'no', ", the lock released: ", $unlocked ? 'yes' : 'no',
        ", token requests: {$s['token_calls']}, abandoned: {$s['hold_abandoned']}\n";
}

// 1. The token.
held_rotation('zerowait');

// 2. A JS-SDK ticket: the same, its request held.
$appid = test_appid('zwticket');
reset_account($appid, ['expires_in' => 60]);
$w = new class_weixin($appid, TEST_SECRET);
$ticket = $w->get_jsapi_ticket();
standin('/__admin/configure', ['appid' => $appid, 'ticket_hold' => 1]);
$tickets = [];
wait_for(function () use ($w, $appid, &$tickets) {
    $tickets[$w->get_jsapi_ticket()] = 1;
    return stats($appid)['held'] >= 1;
});
for ($i = 0; $i < 50; $i++) {
    $tickets[$w->get_jsapi_ticket()] = 1;
}
$s = stats($appid);
echo "ticket: 50 more while WeChat holds its request: ", array_keys($tickets) === [$ticket] ? 'the current ticket' : 'another',
    "; the request still held: ", $s['held'] === 1 && $s['hold_abandoned'] === 0 ? 'yes' : 'no', "\n";
standin('/__admin/release', ['appid' => $appid]);
$newTicket = wait_for(fn () => ($t = $w->get_jsapi_ticket()) !== $ticket ? $t : null);
$s = stats($appid);
echo "released: the new ticket served: ", $newTicket && $newTicket === ($s['current_tickets']['jsapi'] ?? null) ? 'yes' : 'no',
    ", shared in memcached: ", get_raw("zw_$appid:jsapi_ticket") === $newTicket ? 'yes' : 'no',
    ", ticket requests: {$s['ticket_calls']['jsapi']}\n";

// 3. A replacement that fails: the current token, no exception, a marker
// spacing the retries. The next one succeeds and passes the daily quota's
// threshold: its warning is raised by a later construction, once.
$appid = test_appid('zwfail');
$key = "zw_$appid";
reset_account($appid, ['expires_in' => 60]);
$warnings = [];
$collect = function (int $type, string $message) use (&$warnings) {
    $warnings[] = $message;
    return true;
};
set_error_handler($collect, E_WARNING);
$first = (new class_weixin($appid, TEST_SECRET))->access_token;
ini_set('weixin.daily_quota_warning', '2'); // the day's third token request for this AppID warns
standin('/__admin/configure', ['appid' => $appid, 'errcode' => -1, 'hold' => 1]);
$exceptions = 0;
$seen = [];
wait_for(function () use ($appid, &$exceptions, &$seen) {
    try {
        $seen[(new class_weixin($appid, TEST_SECRET))->access_token] = 1;
    } catch (WeixinException $e) {
        $exceptions++;
    }
    return stats($appid)['held'] >= 1;
});
standin('/__admin/release', ['appid' => $appid]);
$marker = wait_for(fn () => str_starts_with((string) ($m = get_raw("$key:lock")), 'wx2 fail ahead ') ? $m : null);
try {
    foreach (constructions($appid, 20) as $token) {
        $seen[$token] = 1;
    }
} catch (WeixinException $e) {
    $exceptions++;
}
$s = stats($appid);
echo "WeChat failed: the current token served: ", array_keys($seen) === [$first] ? 'yes' : 'no', ", exceptions: $exceptions",
    ", marker: ", $marker && preg_match('/^wx2 fail ahead \d+ [0-9a-f]{16} \S+ -1 /', $marker) ? 'wx2 fail ahead <hold> <fingerprint> <id> -1 ...' : var_export($marker, true),
    ", no new attempt meanwhile: ", $s['token_calls'] === 2 ? 'yes' : "no ({$s['token_calls']})",
    ", warnings: ", count($warnings), "\n";
standin('/__admin/configure', ['appid' => $appid, 'clear' => 1]);
legacy_memcache()->delete("$key:lock"); // the marker: the next due construction tries again at once
// One construction finds it due and hands the replacement off (it reads
// memcached: not the cache, which serves the token a moment more).
ini_set('weixin.local_cache_ttl', '0');
new class_weixin($appid, TEST_SECRET);
ini_restore('weixin.local_cache_ttl');
// Published (the quota counted, its warning left, before).
$new = wait_for(fn () => ($t = get_raw($key)) !== $first ? $t : null);
// Another app of this process (a host where one PHP serves several) is
// not given this account's warning.
$other = test_appid('zwother');
reset_account($other);
constructions($other, 5);
$othersWarnings = count($warnings);
$seen = construct_until($appid, fn ($token) => $token === $new);
constructions($appid, 20);
echo "WeChat back: the new token served: ", $new && array_key_last($seen) === $new && token_is_current($new) ? 'yes' : 'no',
    ", token requests: ", stats($appid)['token_calls'], ", warnings raised by another app's constructions: $othersWarnings",
    ", then by this one's: ", count($warnings) - $othersWarnings, "\n";
foreach ($warnings as $warning) {
    echo "  ", preg_replace('/^(class_weixin::__construct\(\): )3 token requests .* for AppID \S+, .* past weixin.daily_quota_warning=2: .*\(warned once per process\)$/',
        '${1}3 token requests ... for AppID <appid>, ... past weixin.daily_quota_warning=2: ... (warned once per process)', $warning),
        str_contains($warning, TEST_SECRET) ? ' (THE SECRET SHOWS)' : '', "\n";
}
restore_error_handler();
ini_restore('weixin.daily_quota_warning');

// 4. A script that ends while its replacement is held: its process waits
// for it at shutdown (the new token is published, not lost), no longer.
$appid = test_appid('zwend');
$key = "zw_$appid";
reset_account($appid, ['expires_in' => 60]);
$script = tempnam(sys_get_temp_dir(), 'wxend');
file_put_contents($script, '<?php require ' . var_export(__DIR__ . '/helpers.inc', true) . ';
$appid = getenv("APPID");
$first = (new class_weixin($appid, TEST_SECRET))->access_token;
standin("/__admin/configure", ["appid" => $appid, "hold" => 1]);
wait_for(function () use ($appid) { new class_weixin($appid, TEST_SECRET); return stats($appid)["held"] >= 1; }, 20);
echo json_encode(["first" => $first, "held" => stats($appid)["held"]]), "\n";
// The script ends here, its replacement held.
');
$ini = ['weixin.cache_key' => 'zw_{appid}', 'weixin.refresh_margin' => '59', 'weixin.token_timeout' => '30'];
$process = proc_open([...php_command($ini), $script], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null,
    ['APPID' => $appid] + getenv());
$ended = json_decode((string) fgets($pipes[1]), true);
$running = proc_get_status($process)['running'];
$s = stats($appid);
echo "the script ended with its replacement held: ", ($ended['held'] ?? 0) === 1 ? 'yes' : 'no',
    "; its process still there, the request still waited for: ", $running && $s['held'] === 1 && $s['hold_abandoned'] === 0 ? 'yes' : 'no', "\n";
standin('/__admin/release', ['appid' => $appid]);
$err = stream_get_contents($pipes[2]);
$exit = proc_close($process);
unlink($script);
$s = stats($appid);
$token = get_raw($key);
echo "released: the process ended, exit $exit", $err === '' ? '' : ", stderr: $err",
    "; the replacement it waited for was published: ", $token !== ($ended['first'] ?? null) && token_is_current((string) $token) ? 'yes' : 'no',
    ", abandoned: {$s['hold_abandoned']}, token requests: {$s['token_calls']}\n";

// 5. A process killed while its replacement is held: its lock (held 7 s:
// weixin.token_timeout=5) is taken over once unchanged past that; the
// others serve the current token meanwhile, without waiting.
$appid = test_appid('zwkill');
$key = "zw_$appid";
reset_account($appid, ['expires_in' => 60]);
$first = (new class_weixin($appid, TEST_SECRET))->access_token;
standin('/__admin/configure', ['appid' => $appid, 'hold' => 1]);
$victim = spawn_constructor(['weixin.token_timeout' => '5'] + $ini);
$victimSaw = [];
wait_for(function () use ($victim, $appid, &$victimSaw) {
    $victimSaw[ask($victim, $appid)['token'] ?? 'error'] = 1;
    return stats($appid)['held'] >= 1;
});
$lock = get_raw("$key:lock");
proc_terminate($victim['process'], 9);
$gone = wait_for(fn () => stats($appid)['hold_abandoned'] === 1);
standin('/__admin/release', ['appid' => $appid]);
$seen = construct_until($appid, fn ($token) => $token !== $first, 30);
$new = array_key_last($seen);
$s = stats($appid);
echo "killed with its replacement held (lock ", preg_match('/^wx2 fetch 7 \S+$/', (string) $lock) ? 'wx2 fetch 7 <id>' : var_export($lock, true),
    "): ", $gone ? 'its request abandoned' : 'still held', "; it had served: ", array_keys($victimSaw) === [$first] ? 'the current token' : json_encode($victimSaw),
    "; the others served the current token, then the new one: ", array_keys($seen) === [$first, $new] && token_is_current($new) ? 'yes' : json_encode(array_keys($seen)),
    "; token requests: {$s['token_calls']}\n";
proc_close($victim['process']);
@unlink($victim['script']);

// 7 (before 6, which leaves memcached to a stand-in it stops). Without
// memcached (nothing listens on its port): the stable token, replaced off
// the path too once due (WeChat gives the same one, with the life it has
// left: it is then kept to its end).
$appid = test_appid('zwdegraded');
reset_account($appid, ['expires_in' => 60]);
ini_set('weixin.memcache_servers', '127.0.0.1:' . free_port());
$warnings = [];
set_error_handler($collect, E_WARNING);
$first = (new class_weixin($appid, TEST_SECRET))->access_token; // nothing held: this one waits
// The processes of this machine share it (a file): its replacement would
// take it from there without asking. As if none had it:
foreach (glob('/dev/shm/weixin-' . posix_getuid() . '/*') ?: [] as $shared) {
    if (str_contains((string) @file_get_contents($shared), $first)) {
        unlink($shared);
    }
}
standin('/__admin/configure', ['appid' => $appid, 'hold' => 1]);
$seen = construct_until($appid, fn () => stats($appid)['held'] >= 1);
$during = constructions($appid, 50);
$s = stats($appid);
echo "without memcached: every construction got the current stable token: ", array_keys($seen) === [$first] && $during === [$first] ? 'yes' : 'no',
    "; its replacement held meanwhile: ", $s['held'] === 1 && $s['hold_abandoned'] === 0 ? 'yes' : 'no',
    "; stable token requests: {$s['stable_calls']}, plain: {$s['token_calls']}\n";
standin('/__admin/release', ['appid' => $appid]);
wait_for(fn () => stats($appid)['held'] === 0);
$after = constructions($appid, 20);
$s = stats($appid);
echo "released: served: ", $after === [$first] ? 'the same stable token' : json_encode($after), ", current: ",
    token_is_current($first) ? 'yes' : 'no', ", stable token requests: {$s['stable_calls']}, warnings: ", count($warnings),
    preg_match('/memcached at 127\.0\.0\.1:\d+ failed/', $warnings[0] ?? '') ? ' (memcached at 127.0.0.1:<port> failed ...)' : '', "\n";
restore_error_handler();

// 6. Over classic commands (a memcached 1.4/1.5, in front of the same
// memcached): the token is due once its record is gone; the same rotation.
[$old_memcached, $old_port] = start_old_memcached(test_memcached_port());
ini_set('weixin.memcache_servers', "127.0.0.1:$old_port");
echo "== classic\n";
held_rotation('zwclassic');
proc_terminate($old_memcached);
proc_close($old_memcached);
?>
--EXPECT--
due: its replacement asked for: yes, every construction got the current token: yes
50 constructions while WeChat holds the request: the current token; the request still held, its client still waiting: yes; under the lock: yes; token requests: 2
WeChat answered: the new token served: yes, shared in memcached: yes, the lock released: yes, token requests: 2, abandoned: 0
ticket: 50 more while WeChat holds its request: the current ticket; the request still held: yes
released: the new ticket served: yes, shared in memcached: yes, ticket requests: 2
WeChat failed: the current token served: yes, exceptions: 0, marker: wx2 fail ahead <hold> <fingerprint> <id> -1 ..., no new attempt meanwhile: yes, warnings: 0
WeChat back: the new token served: yes, token requests: 3, warnings raised by another app's constructions: 0, then by this one's: 1
  class_weixin::__construct(): 3 token requests ... for AppID <appid>, ... past weixin.daily_quota_warning=2: ... (warned once per process)
the script ended with its replacement held: yes; its process still there, the request still waited for: yes
released: the process ended, exit 0; the replacement it waited for was published: yes, abandoned: 0, token requests: 2
killed with its replacement held (lock wx2 fetch 7 <id>): its request abandoned; it had served: the current token; the others served the current token, then the new one: yes; token requests: 3
without memcached: every construction got the current stable token: yes; its replacement held meanwhile: yes; stable token requests: 2, plain: 0
released: served: the same stable token, current: yes, stable token requests: 2, warnings: 1 (memcached at 127.0.0.1:<port> failed ...)
== classic
due: its replacement asked for: yes, every construction got the current token: yes
50 constructions while WeChat holds the request: the current token; the request still held, its client still waiting: yes; under the lock: yes; token requests: 2
WeChat answered: the new token served: yes, shared in memcached: yes, the lock released: yes, token requests: 2, abandoned: 0
