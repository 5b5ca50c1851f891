<?php
/*
 * The retry-once pattern. When an API refuses the token (40001 "invalid
 * credential / not latest", 40014 "invalid access_token", 42001 "expired"),
 * ask for a fresh one with refresh_access_token() and retry once. Many
 * processes doing this at the same time cause one upstream call: the token is
 * replaced only if the shared one is still the bad one.
 *
 * http_request() does this by itself (weixin.auto_refresh=1, the default):
 * the retry below then never sees a refused token. The pattern is for
 * weixin.auto_refresh=0, and for APIs called with another HTTP client.
 */
define("APPID", getenv("WEIXIN_APPID") ?: "wx1111111111111111");
define("APPSECRET", getenv("WEIXIN_APPSECRET") ?: "11111111111111111111111111111111");

const TOKEN_REFUSED = array(40001, 40014, 42001);

class my_weixin extends class_weixin
{
    public function send_template_message($openid, $template_id, array $data)
    {
        $url = ini_get("weixin.api_base_url") . "/cgi-bin/message/template/send?access_token=" . $this->access_token;
        $message = array("touser" => $openid, "template_id" => $template_id, "data" => $data);
        return json_decode($this->http_request($url, json_encode($message)), true);
    }
}

function send_with_retry(my_weixin $weixin, $openid, $template_id, array $data)
{
    $reply = $weixin->send_template_message($openid, $template_id, $data);
    if (in_array($reply["errcode"] ?? 0, TOKEN_REFUSED, true)) {
        echo "token refused (errcode {$reply['errcode']}), refreshing and retrying once\n";
        $weixin->refresh_access_token();
        $reply = $weixin->send_template_message($openid, $template_id, $data);
    }
    return $reply;
}

$reply = send_with_retry(new my_weixin(), "OPENID", "TEMPLATE_ID", array("first" => array("value" => "Hello")));
echo "errcode ", $reply["errcode"], ": ", $reply["errmsg"], "\n";
