<?php
require_once 'weixin.class.php';
$weixin = new class_weixin();
$ip = $weixin->get_callback_ip();
echo "require_once: ", isset($ip['ip_list']) ? 'ok' : json_encode($ip), "\n";
