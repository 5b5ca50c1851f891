--TEST--
pcntl_fork children use the class after the parent did: own connections, no crosstalk, no hang
--EXTENSIONS--
pcntl
--INI--
weixin.cache_key=fork_{appid}
weixin.local_cache_ttl=0
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$parentApp = test_appid('forkp');
reset_account($parentApp);
// The parent has an HTTP client, its runtime thread and a memcached connection.
$parentToken = (new class_weixin($parentApp, TEST_SECRET))->access_token;

$children = [];
for ($i = 0; $i < 4; $i++) {
    $appid = test_appid("fork$i");
    reset_account($appid);
    $file = tempnam(sys_get_temp_dir(), 'wxfork');
    $pid = pcntl_fork();
    if ($pid === 0) {
        // Child: its own account (memcached + HTTP) and the parent's, many times.
        $ok = true;
        for ($j = 0; $j < 30; $j++) {
            $mine = (new class_weixin($appid, TEST_SECRET))->access_token;
            $theirs = (new class_weixin($parentApp, TEST_SECRET))->access_token;
            $ok = $ok && $theirs === $parentToken && $mine !== $parentToken;
        }
        file_put_contents($file, json_encode(['ok' => $ok, 'token' => $mine]));
        exit(0);
    }
    $children[$pid] = [$appid, $file];
}
// Meanwhile the parent keeps using its own connections.
$parentOk = true;
for ($j = 0; $j < 60; $j++) {
    $parentOk = $parentOk && (new class_weixin($parentApp, TEST_SECRET))->access_token === $parentToken;
}
$deadline = time() + 30;
while ($children && time() < $deadline) {
    $pid = pcntl_waitpid(-1, $status, WNOHANG);
    if ($pid > 0) {
        [$appid, $file] = $children[$pid];
        $result = json_decode((string) file_get_contents($file), true);
        unlink($file);
        echo "child: exit ", pcntl_wexitstatus($status), ", consistent ", var_export($result['ok'] ?? false, true),
            ", its token current ", token_is_current($result['token'] ?? '') ? 'yes' : 'no',
            ", one fetch ", stats($appid)['token_calls'] === 1 ? 'yes' : 'no', "\n";
        unset($children[$pid]);
    } else {
        usleep(20000);
    }
}
echo "hung children: ", count($children), "\n";
foreach (array_keys($children) as $pid) posix_kill($pid, 9);
echo "parent consistent: ", var_export($parentOk, true), ", parent still fetches fine: ";
echo token_is_current((new class_weixin(test_appid('forkq'), TEST_SECRET))->access_token) ? 'yes' : 'no', "\n";
?>
--EXPECT--
child: exit 0, consistent true, its token current yes, one fetch yes
child: exit 0, consistent true, its token current yes, one fetch yes
child: exit 0, consistent true, its token current yes, one fetch yes
child: exit 0, consistent true, its token current yes, one fetch yes
hung children: 0
parent consistent: true, parent still fetches fine: yes
