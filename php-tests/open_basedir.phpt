--TEST--
open_basedir: http_request() uploads a CURLFile only from within it (relative paths from the script's directory, symlinks followed), and reads a weixin.ca_file the script sets only from within it; php.ini's CA file is the administrator's
--INI--
weixin.cache_key=basedir_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('basedir');
reset_account($appid);
$base = getenv('WEIXIN_TEST_API');

$root = sys_get_temp_dir() . '/weixin-basedir-' . bin2hex(random_bytes(4));
mkdir("$root/app", 0755, true);
mkdir("$root/private");
file_put_contents("$root/app/photo.jpg", random_bytes(3000));
file_put_contents("$root/private/key.pem", "not for upload\n");
symlink("$root/private/key.pem", "$root/app/link.pem");
copy(getenv('WEIXIN_TEST_CA_FILE'), "$root/app/ca.pem");

class api extends class_weixin {
    public function call($url, $data = null) { return $this->http_request($url, $data); }
}
$w = new api($appid, TEST_SECRET);
$upload = "$base/cgi-bin/media/upload?access_token={$w->access_token}&type=image";

chdir("$root/app");
ini_set('open_basedir', "$root/app");
foreach (['photo.jpg', "$root/app/photo.jpg", "$root/private/key.pem", '../private/key.pem', 'link.pem'] as $path) {
    $reply = $w->call($upload, ['media' => new CURLFile($path)]);
    echo str_replace($root, 'ROOT', $path), ": ", $reply === false ? 'not sent'
        : (json_decode($reply, true)['x_size'] ?? $reply) . ' bytes sent', "\n";
}

// A CA file the script sets, as curl's CURLOPT_CAINFO: within open_basedir only.
ini_set('weixin.api_base_url', getenv('WEIXIN_TEST_API_TLS'));
foreach ([getenv('WEIXIN_TEST_CA_FILE'), 'ca.pem'] as $ca) {
    ini_set('weixin.ca_file', $ca);
    try {
        $tls = new class_weixin(test_appid('basedir'), TEST_SECRET);
        echo "weixin.ca_file $ca: ", strlen($tls->access_token) > 20 ? 'token' : 'no token', "\n";
    } catch (WeixinException $e) {
        echo str_replace([$root, getenv('WEIXIN_TEST_CA_FILE')], ['ROOT', 'CA'], $e->getMessage()), "\n";
    }
}

// php.ini's weixin.ca_file is read wherever it is.
$code = 'ini_set("open_basedir", getenv("ROOT") . "/app"); $w = new class_weixin("' . test_appid('basedir')
    . '", "' . TEST_SECRET . '"); echo strlen($w->access_token) > 20 ? "token" : "no token";';
$ini = ['weixin.ca_file' => getenv('WEIXIN_TEST_CA_FILE'), 'weixin.api_base_url' => getenv('WEIXIN_TEST_API_TLS'),
    'weixin.cache_key' => 'basedir_{appid}'];
$run = proc_open([...php_command($ini), '-r', $code], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, ['ROOT' => $root] + getenv());
echo "php.ini's weixin.ca_file outside open_basedir: ", stream_get_contents($pipes[1]), stream_get_contents($pipes[2]), "\n";
proc_close($run);
exec('rm -rf ' . escapeshellarg($root));
reset_account($appid);
?>
--EXPECTF--
photo.jpg: 3000 bytes sent
ROOT/app/photo.jpg: 3000 bytes sent

Warning: class_weixin::http_request(): field 'media': the upload file '%s/private/key.pem' is outside open_basedir (%s/app); nothing was sent in %s on line %d
ROOT/private/key.pem: not sent

Warning: class_weixin::http_request(): field 'media': the upload file '../private/key.pem' is outside open_basedir (%s/app); nothing was sent in %s on line %d
../private/key.pem: not sent

Warning: class_weixin::http_request(): field 'media': the upload file 'link.pem' is outside open_basedir (%s/app); nothing was sent in %s on line %d
link.pem: not sent
weixin.ca_file: 'CA' is outside open_basedir (ROOT/app): a CA file set by the script (ini_set(), .user.ini) is read only within open_basedir
weixin.ca_file ca.pem: token
php.ini's weixin.ca_file outside open_basedir: token