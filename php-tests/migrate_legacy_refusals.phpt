--TEST--
scripts/migrate-legacy.php refuses what it does not understand, with the reason, and changes nothing (exit status 1); a migrated file is left as it is; --write keeps every earlier backup
--FILE--
<?php
$dir = sys_get_temp_dir() . '/wxmigrate' . getmypid();
@mkdir($dir);
$token_constructor = 'public function __construct($appid = NULL, $appsecret = NULL) { $this->access_token = "t"; }';
$cases = [
    'no class_weixin' => '<?php class other {}',
    'does not parse' => '<?php class class_weixin { public function }',
    'in a namespace' => "<?php namespace App; class class_weixin { $token_constructor }",
    'extends another class' => "<?php class class_weixin extends Base { $token_constructor }",
    'declared twice' => "<?php if (\$a) { class class_weixin { $token_constructor } } else { class class_weixin { $token_constructor } }",
    'a private http_request()' => "<?php class class_weixin { $token_constructor private function http_request(\$url, \$data = null) {} }",
    'a native method of its own' => "<?php class class_weixin { $token_constructor public function get_ticket() {} }",
    'a constructor of its own kind' => '<?php class class_weixin { public function __construct($config, $cache, $log) { $this->access_token = "t"; } }',
    'a private $appsecret' => "<?php class class_weixin { private \$appsecret; $token_constructor }",
    'already migrated' => "<?php class class_weixin extends \\class_weixin_native { }",
];
foreach ($cases as $what => $source) {
    file_put_contents("$dir/weixin.class.php", $source);
    exec(escapeshellarg(PHP_BINARY) . ' ' . escapeshellarg(dirname(__DIR__) . '/scripts/migrate-legacy.php') . ' --write '
        . escapeshellarg("$dir/weixin.class.php") . ' 2>&1', $output, $status);
    echo "$what: ", str_replace("$dir/", '', implode("\n", $output)), " (exit status $status",
        file_get_contents("$dir/weixin.class.php") === $source ? ', unchanged' : ', CHANGED', ")\n";
    $output = [];
}

// --write twice (the first edit undone in between): both backups kept.
$legacy = "<?php\nclass class_weixin\n{\n    $token_constructor\n}\n";
foreach ([1, 2] as $run) {
    file_put_contents("$dir/weixin.class.php", $legacy);
    exec(escapeshellarg(PHP_BINARY) . ' ' . escapeshellarg(dirname(__DIR__) . '/scripts/migrate-legacy.php') . ' --write '
        . escapeshellarg("$dir/weixin.class.php") . ' 2>&1', $output, $status);
    echo "--write, run $run: exit status $status, ", str_replace("$dir/", '', end($output)), "\n";
}
echo "the migrated file: ", json_encode(file_get_contents("$dir/weixin.class.php")), "\n";
echo "backups: ", implode(', ', array_map('basename', glob("$dir/weixin.class.php.bak*"))), ", both the original: ",
    file_get_contents("$dir/weixin.class.php.bak") === $legacy && file_get_contents("$dir/weixin.class.php.bak.1") === $legacy ? 'yes' : 'no', "\n";
exec('rm -rf ' . escapeshellarg($dir));
?>
--EXPECT--
no class_weixin: migrate-legacy: weixin.class.php: refused, nothing changed: it declares no class class_weixin (exit status 1, unchanged)
does not parse: migrate-legacy: weixin.class.php: refused, nothing changed: it does not parse (line 1: syntax error, unexpected token "}") (exit status 1, unchanged)
in a namespace: migrate-legacy: weixin.class.php: refused, nothing changed: it declares class_weixin in namespace App; the extension's class_weixin is global (exit status 1, unchanged)
extends another class: migrate-legacy: weixin.class.php: refused, nothing changed: class_weixin extends Base: a class can extend only one; edit it by hand (exit status 1, unchanged)
declared twice: migrate-legacy: weixin.class.php: refused, nothing changed: it declares class_weixin 2 times: edit it by hand (exit status 1, unchanged)
a private http_request(): migrate-legacy: weixin.class.php: refused, nothing changed: its http_request() is private; the extension's is protected: make the copy's protected (or public), then run this again (exit status 1, unchanged)
a native method of its own: migrate-legacy: weixin.class.php: refused, nothing changed: it declares get_ticket(), which the extension's class has too with its own signature; rename one, then run this again (exit status 1, unchanged)
a constructor of its own kind: migrate-legacy: weixin.class.php: refused, nothing changed: its constructor takes $config, $cache, $log; the extension's takes ($appid, $appsecret): edit it by hand (exit status 1, unchanged)
a private $appsecret: migrate-legacy: weixin.class.php: refused, nothing changed: its $appsecret is private; the extension's is public: make it public, then run this again (exit status 1, unchanged)
already migrated: weixin.class.php: nothing to change: class_weixin already extends class_weixin_native (exit status 0, unchanged)
--write, run 1: exit status 0, Written: weixin.class.php (the original is in weixin.class.php.bak)
--write, run 2: exit status 0, Written: weixin.class.php (the original is in weixin.class.php.bak.1)
the migrated file: "<?php\nclass class_weixin extends class_weixin_native\n{\n}\n"
backups: weixin.class.php.bak, weixin.class.php.bak.1, both the original: yes
