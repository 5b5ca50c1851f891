<?php
include_once '../lib/weixin.class.php';
$weixin = new class_weixin();
$ip = $weixin->get_callback_ip();
echo "include_once '../lib/weixin.class.php': ", isset($ip['ip_list']) ? 'ok' : json_encode($ip), "\n";
