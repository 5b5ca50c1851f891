<?php
// Run by the harness in every thread (one request each). Thread 0 forks
// ZTS_FORKS children, one at a time, while the other threads construct
// class_weixin without pause, taking and releasing the extension's locks
// (memcached connections, the process's token slots). Each child, which has
// only the forking thread, constructs class_weixin once and reports its
// token over a socket pair; a child that does not answer within 10 s is
// stuck on a lock inherited locked, and is killed.
//   ZTS_APPID, ZTS_SECRET  the account; ZTS_FORKS  how many children
$thread = (int) $_SERVER['ZTS_THREAD'];
$appid = (string) getenv('ZTS_APPID');
$secret = (string) getenv('ZTS_SECRET');
$flag = (string) getenv('ZTS_DONE_FILE');

if ($thread !== 0) {
    $constructions = $errors = 0;
    // Until thread 0 is done (a file it creates), at least once.
    do {
        try {
            new class_weixin($appid, $secret);
        } catch (Throwable $e) {
            $errors++;
        }
        $constructions++;
    } while (!file_exists($flag));
    echo "busy errors $errors\n";
    return;
}

$forks = (int) getenv('ZTS_FORKS');
$parentToken = (new class_weixin($appid, $secret))->access_token;
$answered = $hung = $other = 0;
for ($i = 0; $i < $forks; $i++) {
    [$mine, $theirs] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
    $pid = pcntl_fork();
    if ($pid === 0) {
        fclose($mine);
        try {
            $said = (new class_weixin($appid, $secret))->access_token;
        } catch (Throwable $e) {
            $said = 'error ' . $e->getMessage();
        }
        fwrite($theirs, "$said\n");
        // No shutdown in the child: the harness's other threads are not here.
        posix_kill(posix_getpid(), SIGKILL);
    }
    fclose($theirs);
    $read = [$mine];
    $write = $except = null;
    if (stream_select($read, $write, $except, 10) === 1) {
        $line = rtrim((string) fgets($mine));
        $line === $parentToken ? $answered++ : $other++;
        if ($line !== $parentToken) {
            echo "child said: $line\n";
        }
    } else {
        $hung++;
        posix_kill($pid, SIGKILL);
    }
    pcntl_waitpid($pid, $status);
    fclose($mine);
}
touch($flag);
echo "forks $forks answered $answered hung $hung other $other\n";
