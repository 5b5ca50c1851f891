<?php
// Run by the harness in every request of every thread: constructs
// class_weixin ZTS_CONSTRUCTIONS times and prints, per account, each token it
// got with how many times, then the weixin.* settings this request saw.
//   ZTS_APPIDS  comma-separated AppIDs; ZTS_SPREAD=own: thread i uses the
//               i-th (cycled), ZTS_SPREAD=all: every thread uses all in turn
//   ZTS_SECRET  the AppSecret
//   ZTS_INI_SET_THREAD  (optional) the one thread whose requests also
//               ini_set() a weixin.* value, as a script of one host may
$thread = (int) $_SERVER['ZTS_THREAD'];
$appids = explode(',', (string) getenv('ZTS_APPIDS'));
$mine = getenv('ZTS_SPREAD') === 'all' ? $appids : [$appids[$thread % count($appids)]];
$secret = (string) getenv('ZTS_SECRET');
$count = (int) getenv('ZTS_CONSTRUCTIONS');

if (getenv('ZTS_INI_SET_THREAD') === (string) $thread) {
    ini_set('weixin.timeout', (string) (10 + $thread));
}
$seen = [];
for ($i = 0; $i < $count; $i++) {
    $appid = $mine[$i % count($mine)];
    try {
        $what = "token $appid " . (new class_weixin($appid, $secret))->access_token;
    } catch (Throwable $e) {
        $what = 'error ' . get_class($e) . ' ' . $e->getMessage();
    }
    $seen[$what] = ($seen[$what] ?? 0) + 1;
}
foreach ($seen as $what => $times) {
    echo "$what x$times\n";
}
$ini = [];
foreach (['local_cache_ttl', 'timeout', 'refresh_margin', 'cache_key'] as $name) {
    $ini[] = "$name=" . ini_get("weixin.$name");
}
// The process's count of settings readings, so far (the harness's SAPI
// prints phpinfo() as HTML).
ob_start();
phpinfo(INFO_MODULES);
$info = strip_tags(ob_get_clean());
$ini[] = preg_match('/^settings read(?: =>)?\s+(\d+)/m', $info, $m) ? "settings_read=$m[1]" : 'settings_read=?';
echo 'ini ', implode(' ', $ini), "\n";
