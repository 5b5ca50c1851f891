<?php
/*
 * A legacy-style subclass: it adds an API call on top of class_weixin and
 * sends it through the inherited http_request(), as apps built on the
 * original class do. Credentials as in seed.php.
 */
define("APPID", getenv("WEIXIN_APPID") ?: "wx1111111111111111");
define("APPSECRET", getenv("WEIXIN_APPSECRET") ?: "11111111111111111111111111111111");

class my_weixin extends class_weixin
{
    /** Sends a template message; returns WeChat's reply as an array. */
    public function send_template_message($openid, $template_id, array $data)
    {
        $url = ini_get("weixin.api_base_url") . "/cgi-bin/message/template/send?access_token=" . $this->access_token;
        $message = array("touser" => $openid, "template_id" => $template_id, "data" => $data);
        return json_decode($this->http_request($url, json_encode($message)), true);
    }
}

$weixin = new my_weixin();
$reply = $weixin->send_template_message("OPENID", "TEMPLATE_ID", array(
    "first" => array("value" => "Your order has shipped"),
));
echo "errcode ", $reply["errcode"], ": ", $reply["errmsg"], "\n";
