<?php
namespace App\Controller;

require_once __DIR__ . '/../../lib/weixin.class.php';

class WechatController
{
    public function ip()
    {
        $weixin = new \class_weixin();
        return $weixin->get_callback_ip();
    }
}

$ip = (new WechatController())->ip();
echo "namespaced new \\class_weixin(): ", isset($ip['ip_list']) ? 'ok' : json_encode($ip), "\n";
