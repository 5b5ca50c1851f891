<?php
// A framework's loader, as ThinkPHP's vendor(): 'a.b#c' is a/b.c.php,
// required once.
function vendor($class, $baseUrl = '', $ext = '.php')
{
    static $loaded = array();
    $file = ($baseUrl ?: __DIR__ . '/') . str_replace(array('.', '#'), array('/', '.'), $class) . $ext;
    if (!isset($loaded[$file])) {
        $loaded[$file] = require_once $file;
    }
    return $loaded[$file];
}
vendor('lib.weixin#class');
$weixin = new class_weixin();
$ip = $weixin->get_callback_ip();
echo "vendor('lib.weixin#class'): ", isset($ip['ip_list']) ? 'ok' : json_encode($ip), "\n";
