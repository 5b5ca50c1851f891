--TEST--
A process keeps at most 32 memcached servers, those used last: 200 spellings of one memcached given by ini_set() (localhost, 127.1, 0x7f.0.0.1, 0177.00.0.01, ...: each a server of its own, as PECL memcache hashes the spelling) leave at most 32 sockets open, and every spelling is served
--INI--
weixin.cache_key=conn_bounded_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';

/** How many sockets this process has open (memcached's, the stand-in's, any). */
function open_sockets(): int
{
    $count = 0;
    foreach (scandir('/proc/self/fd') as $fd) {
        $count += str_starts_with((string) @readlink("/proc/self/fd/$fd"), 'socket:');
    }
    return $count;
}

// Spellings of 127.0.0.1 the resolver reads as it (inet_aton: octal,
// hexadecimal, fewer parts).
$spellings = ['localhost', '127.1', '127.0.1', '2130706433'];
foreach (['127', '0177', '0x7f', '0x7F', '00177', '0X7f', '0x07f', '000177'] as $a) {
    foreach (['0', '00', '000', '0x0', '0x00'] as $b) {
        foreach (['0', '00', '000', '0x0', '0x00'] as $c) {
            foreach (['1', '01', '001', '0x1', '0x01'] as $d) {
                $spellings[] = "$a.$b.$c.$d";
            }
        }
    }
}
$spellings = array_slice($spellings, 0, 200);
$port = explode(':', getenv('WEIXIN_TEST_MEMCACHED'))[1];

// A token cached by legacy code: every construction reads it from memcached
// (a new server list is a new process-local slot), none asks WeChat.
$appid = test_appid('connbound');
legacy_memcache()->set("conn_bounded_$appid", 'TOKEN_BOUNDED', 0, 3600);
$before = open_sockets();
$served = 0;
$most = 0;
foreach ($spellings as $spelling) {
    ini_set('weixin.memcache_servers', "$spelling:$port");
    $served += (new class_weixin($appid, TEST_SECRET))->access_token === 'TOKEN_BOUNDED';
    $most = max($most, open_sockets() - $before);
}
echo count(array_unique($spellings)), " spellings, served: $served\n";
report("memcached_connections_bounded: 200 spellings of one memcached, at most $most sockets open at once");
echo "sockets the extension held at most: ", $most <= 32 ? 'no more than 32' : $most, "\n";
// The first spelling, dropped long ago, connects again.
ini_set('weixin.memcache_servers', "{$spellings[0]}:$port");
ini_set('weixin.local_cache_ttl', '0');
var_dump((new class_weixin($appid, TEST_SECRET))->access_token);
echo "sockets held now: ", open_sockets() - $before <= 32 ? 'no more than 32' : open_sockets() - $before, "\n";
legacy_memcache()->delete("conn_bounded_$appid");
?>
--EXPECT--
200 spellings, served: 200
sockets the extension held at most: no more than 32
string(13) "TOKEN_BOUNDED"
sockets held now: no more than 32
