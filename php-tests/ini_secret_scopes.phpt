--TEST--
The AppSecret of php.ini or a php-fpm pool: ini_get(), ini_get_all() and get_cfg_var() show a mask; a script that moves weixin.api_base_url, weixin.proxy or weixin.ca_file (ini_set(), .user.ini) cannot send it anywhere, and may send a secret of its own where it likes
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs php-fpm and nginx: not under valgrind'); ?>
--FILE--
<?php
require __DIR__ . '/helpers.inc';
require __DIR__ . '/fpm.inc';
$appid = test_appid('scopes');
reset_account($appid, ['secret' => TEST_SECRET]);

// A listener standing for another host: what reaches it, and whether it
// carries the administrator's secret.
$child = <<<'PHP'
$evil = stream_socket_server('tcp://127.0.0.1:0');
$evilUrl = 'http://' . stream_socket_get_name($evil, false);
function reached($evil): string {
    $got = @stream_socket_accept($evil, 0);
    if (!$got) return 'nothing';
    stream_set_timeout($got, 2);
    $request = (string) fread($got, 8192);
    return str_contains($request, TEST_SECRET) ? 'a request with the php.ini secret'
        : (str_contains($request, 'scriptown') ? "a request with the script's own secret" : 'a request');
}
function attempt(string $what, $evil, ?array $pair = null): void {
    forget_token('scopes_' . APPID_UNDER_TEST);
    try {
        $w = $pair ? new class_weixin(...$pair) : new class_weixin();
        $outcome = token_is_current($w->access_token) ? 'a current token' : 'a token';
    } catch (WeixinException $e) {
        $outcome = str_contains($e->getMessage(), 'timed out') ? 'timed out' : $e->getMessage();
    }
    echo "$what: $outcome; the other host got ", reached($evil), "\n";
}
echo "ini_get: ", ini_get('weixin.appsecret'), "; get_cfg_var: ", get_cfg_var('weixin.appsecret'),
    "; ini_get_all: ", implode(' ', array_intersect_key(ini_get_all('weixin')['weixin.appsecret'], ['global_value' => 1, 'local_value' => 1])), "\n";
ini_set('weixin.token_timeout', '1');
attempt('as php.ini has it', $evil);

ini_set('weixin.api_base_url', $evilUrl);
attempt('weixin.api_base_url moved', $evil);
ini_restore('weixin.api_base_url');
ini_set('weixin.proxy', $evilUrl);
attempt('weixin.proxy moved', $evil);
ini_restore('weixin.proxy');
ini_set('weixin.ca_file', '/etc/ssl/certs/ca-certificates.crt');
attempt('weixin.ca_file moved', $evil);
ini_restore('weixin.ca_file');

// The script's own secret, set the same way, goes where the script says
// (for an account this process holds no token of).
ini_set('weixin.api_base_url', $evilUrl);
ini_set('weixin.appid', OTHER_APPID);
ini_set('weixin.appsecret', 'scriptown0123456789abcdef0123456');
echo "ini_get after ini_set: ", ini_get('weixin.appsecret'), "\n";
attempt("the script's own secret", $evil);
ini_restore('weixin.appsecret');
attempt('php.ini secret again', $evil);
attempt('a pair given to the constructor', $evil, [PAIR_APPID, 'scriptown0123456789abcdef0123456']);
PHP;
$script = tempnam(sys_get_temp_dir(), 'wxscope');
file_put_contents($script, "<?php\nrequire " . var_export(__DIR__ . '/helpers.inc', true) . ";\nconst APPID_UNDER_TEST = '$appid';\nconst OTHER_APPID = '"
    . test_appid('scopesown') . "';\nconst PAIR_APPID = '" . test_appid('scopespair') . "';\n$child");
$ini = ['weixin.appid' => $appid, 'weixin.appsecret' => TEST_SECRET, 'weixin.cache_key' => 'scopes_{appid}',
    'weixin.local_cache_ttl' => '0'];
$run = proc_open([...php_command($ini), $script], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
echo "== CLI, the secret in php.ini (-d)\n", stream_get_contents($pipes[1]), stream_get_contents($pipes[2]);
proc_close($run);
unlink($script);
forget_token("scopes_$appid");

// php-fpm: the secret in the pool's php_admin_value, a .user.ini beside
// the page written by whoever owns the app's directory.
$evil = stream_socket_server('tcp://127.0.0.1:0');
$evilUrl = 'http://' . stream_socket_get_name($evil, false);
$site = fpm_start('<?php
$all = ini_get_all("weixin")["weixin.appsecret"];
echo "ini_get: ", ini_get("weixin.appsecret"), "; ini_get_all: ", $all["global_value"], " ", $all["local_value"], "; ";
try {
    $w = new class_weixin();
    echo "token: ", strlen($w->access_token) > 20 ? "yes" : "no";
} catch (WeixinException $e) {
    echo $e->getMessage();
}', ['user_ini.cache_ttl' => '0', 'weixin.token_timeout' => '1', 'weixin.cache_key' => 'scopes_{appid}',
    'weixin.local_cache_ttl' => '0'], 1,
    ["php_admin_value[weixin.appsecret] = " . TEST_SECRET, "php_admin_value[weixin.appid] = $appid"]);
echo "== php-fpm, the secret in the pool\n";
echo "as the pool has it: ", @file_get_contents($site['url']), "\n";
file_put_contents($site['dir'] . '/.user.ini', "weixin.api_base_url = \"$evilUrl\"\n");
forget_token("scopes_$appid");
// php-fpm reads .user.ini again once its cache (user_ini.cache_ttl=0)
// expires: in the next second.
for ($second = time(); time() <= $second;) usleep(20000);
echo ".user.ini moves weixin.api_base_url: ", @file_get_contents($site['url']), "\n";
echo "the other host got: ", @stream_socket_accept($evil, 0) ? 'a connection' : 'nothing', "\n";
unlink($site['dir'] . '/.user.ini');
for ($second = time(); time() <= $second;) usleep(20000);
echo "without it: ", @file_get_contents($site['url']), "\n";
echo "PHP errors logged: ", @file_get_contents($site['dir'] . '/php-errors.log') ?: 'none', "\n";
fpm_stop($site);
echo "token requests: ", stats($appid)['token_calls'], "\n";
forget_token("scopes_$appid");
reset_account($appid);
?>
--EXPECT--
== CLI, the secret in php.ini (-d)
ini_get: ********; get_cfg_var: ********; ini_get_all: ******** ********
as php.ini has it: a current token; the other host got nothing
weixin.api_base_url moved: weixin.api_base_url set by this script (ini_set(), .user.ini), but the AppSecret is weixin.appsecret from php.ini or the php-fpm pool: a script may send elsewhere only a secret it gives itself. Set it where weixin.appsecret is set, or pass the AppID and AppSecret to the constructor; the other host got nothing
weixin.proxy moved: weixin.proxy set by this script (ini_set(), .user.ini), but the AppSecret is weixin.appsecret from php.ini or the php-fpm pool: a script may send elsewhere only a secret it gives itself. Set it where weixin.appsecret is set, or pass the AppID and AppSecret to the constructor; the other host got nothing
weixin.ca_file moved: weixin.ca_file set by this script (ini_set(), .user.ini), but the AppSecret is weixin.appsecret from php.ini or the php-fpm pool: a script may send elsewhere only a secret it gives itself. Set it where weixin.appsecret is set, or pass the AppID and AppSecret to the constructor; the other host got nothing
ini_get after ini_set: scriptown0123456789abcdef0123456
the script's own secret: timed out; the other host got a request with the script's own secret
php.ini secret again: weixin.api_base_url set by this script (ini_set(), .user.ini), but the AppSecret is weixin.appsecret from php.ini or the php-fpm pool: a script may send elsewhere only a secret it gives itself. Set it where weixin.appsecret is set, or pass the AppID and AppSecret to the constructor; the other host got nothing
a pair given to the constructor: timed out; the other host got a request with the script's own secret
== php-fpm, the secret in the pool
as the pool has it: ini_get: ********; ini_get_all: ******** ********; token: yes
.user.ini moves weixin.api_base_url: ini_get: ********; ini_get_all: ******** ********; weixin.api_base_url set by this script (ini_set(), .user.ini), but the AppSecret is weixin.appsecret from php.ini or the php-fpm pool: a script may send elsewhere only a secret it gives itself. Set it where weixin.appsecret is set, or pass the AppID and AppSecret to the constructor
the other host got: nothing
without it: ini_get: ********; ini_get_all: ******** ********; token: yes
PHP errors logged: none
token requests: 3