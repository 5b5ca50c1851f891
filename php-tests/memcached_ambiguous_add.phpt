--TEST--
The reply to the lock's add is lost (connection closed after memcached applied it), over meta commands and over classic ones (a memcached 1.4/1.5): the add is not sent again, the process finds its own lock and fetches at once
--SKIPIF--
<?php if (getenv('USE_ZEND_ALLOC') === '0') die('skip runs a proxy process: not under valgrind'); ?>
--INI--
weixin.cache_key=ambiguous_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';

function counters(): array
{
    ob_start();
    phpinfo(INFO_MODULES);
    preg_match_all('/^(upstream calls|lock waits) => (\d+)$/m', ob_get_clean(), $m);
    return array_combine($m[1], array_map('intval', $m[2]));
}

/** One construction through a front on $port that loses the first add's reply and says so on $said. */
function lose_first_add(string $label, int $port, $said): void
{
    echo "== $label\n";
    ini_set('weixin.memcache_servers', "127.0.0.1:$port");
    $appid = test_appid('ambiguous');
    reset_account($appid);
    $key = "ambiguous_$appid";
    $before = counters();
    try {
        $token = @(new class_weixin($appid, TEST_SECRET))->access_token;
        echo "token: ", token_is_current($token) ? 'current' : 'not current', "\n";
    } catch (WeixinException $e) {
        echo "exception: ", $e->getMessage(), "\n";
        $token = null;
    }
    echo str_replace($key, 'KEY', trim(fgets($said))), "\n";
    $after = counters();
    echo "lock waits: ", $after['lock waits'] - $before['lock waits'], ", upstream calls: ",
        $after['upstream calls'] - $before['upstream calls'], " (stand-in: ", stats($appid)['token_calls'], ")\n";
    echo "memcached holds the token: ", $token !== null && get_raw($key) === $token ? 'yes' : 'no', "\n";
    echo "the lock is released: ", trim(memcached_command("mg $key:lock")) === 'EN' ? 'yes' : 'no', "\n";
}

// Meta: forwards the first "ms ... ME" to memcached, reads memcached's reply,
// and closes the connection instead of passing the reply on.
$proxy = proc_open(['python3', __DIR__ . '/memcached_faults.py', 'proxy', '--to', getenv('WEIXIN_TEST_MEMCACHED'),
    '--lose-first-add-reply'], [0 => ['pipe', 'r'], 1 => ['pipe', 'w']], $pipes);
lose_first_add('meta', (int) trim(fgets($pipes[1])), $pipes[1]);
proc_terminate($proxy);
proc_close($proxy);

// Classic: the same with the first "add", on a server without meta commands.
[$old, $old_port, , $said] = start_old_memcached(test_memcached_port(), true);
lose_first_add('classic', $old_port, $said);
proc_terminate($old);
proc_close($old);
?>
--EXPECTF--
== meta
token: current
lost the reply to: ms KEY:lock %d T%d F0 ME
lock waits: 0, upstream calls: 1 (stand-in: 1)
memcached holds the token: yes
the lock is released: yes
== classic
token: current
lost the reply to: add KEY:lock %d %d %d
lock waits: 0, upstream calls: 1 (stand-in: 1)
memcached holds the token: yes
the lock is released: yes
