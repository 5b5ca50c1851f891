<?php
/*
 * Fixture (shape 1, written for this project): the most common legacy copy,
 * the 2014 article's class grown with JS-SDK signing, card tickets, a few
 * APIs and a logger; its constants and header() at the top of the file.
 */
header("Content-type: text/html; charset=utf-8");
define("APPID", "wx0000000000000001");
define("APPSECRET", "00000000000000000000000000000001");

class class_weixin
{
    var $appid = APPID;
    var $appsecret = APPSECRET;

    //构造函数,获取Access Token
    public function __construct($appid = NULL, $appsecret = NULL)
    {
        if($appid && $appsecret){
            $this->appid = $appid;
            $this->appsecret = $appsecret;
        }
        $mem = new Memcache;
        $mem->connect('localhost', 11211) or die ("Could not connect");
        $this->access_token = $mem->get('access_token');
        if (empty($this->access_token)){
            $url = "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=".$this->appid."&secret=".$this->appsecret;
            $res = $this->http_request($url);
            $result = json_decode($res, true);
            $this->access_token = $result["access_token"];
            $mem->set('access_token', $this->access_token, 0, 7200);
        }
    }

    //JS-SDK 签名包
    public function getSignPackage($url = '')
    {
        $jsapiTicket = $this->getJsApiTicket();
        if ($url === '') {
            $protocol = (!empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off') ? "https://" : "http://";
            $url = "$protocol$_SERVER[HTTP_HOST]$_SERVER[REQUEST_URI]";
        }
        $timestamp = time();
        $nonceStr = $this->createNonceStr();
        $string = "jsapi_ticket=$jsapiTicket&noncestr=$nonceStr&timestamp=$timestamp&url=$url";
        $signature = sha1($string);
        return array(
            "appId"     => $this->appid,
            "nonceStr"  => $nonceStr,
            "timestamp" => $timestamp,
            "url"       => $url,
            "signature" => $signature,
            "rawString" => $string
        );
    }

    private function createNonceStr($length = 16)
    {
        $chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        $str = "";
        for ($i = 0; $i < $length; $i++) {
            $str .= substr($chars, mt_rand(0, strlen($chars) - 1), 1);
        }
        return $str;
    }

    private function getJsApiTicket()
    {
        $url = "https://api.weixin.qq.com/cgi-bin/ticket/getticket?type=jsapi&access_token=".$this->access_token;
        $res = json_decode($this->http_request($url));
        $ticket = isset($res->ticket) ? $res->ticket : '';
        $this->logger("jsapi_ticket ".($ticket ? "ok" : "failed"));
        return $ticket;
    }

    //卡券 api_ticket
    public function get_card_ticket()
    {
        $url = "https://api.weixin.qq.com/cgi-bin/ticket/getticket?type=wx_card&access_token=".$this->access_token;
        $res = json_decode($this->http_request($url), true);
        return isset($res["ticket"]) ? $res["ticket"] : '';
    }

    //卡券签名
    public function get_cardsign($bizObj)
    {
        $values = array_values($bizObj);
        sort($values, SORT_STRING);
        return sha1(implode($values));
    }

    //微信服务器IP
    public function get_callback_ip()
    {
        $url = "https://api.weixin.qq.com/cgi-bin/getcallbackip?access_token=".$this->access_token;
        return json_decode($this->http_request($url), true);
    }

    //模板消息
    public function send_template_message($data)
    {
        $url = "https://api.weixin.qq.com/cgi-bin/message/template/send?access_token=".$this->access_token;
        return json_decode($this->http_request($url, $data), true);
    }

    //日志
    private function logger($content)
    {
        file_put_contents(__DIR__ . "/log.txt", date('Y-m-d H:i:s')." ".$content."\n", FILE_APPEND);
    }

    //HTTP请求(支持HTTP/HTTPS,支持GET/POST)
    protected function http_request($url, $data = null)
    {
        $curl = curl_init();
        curl_setopt($curl, CURLOPT_URL, $url);
        if (!empty($data)){
            curl_setopt($curl, CURLOPT_POST, 1);
            curl_setopt($curl, CURLOPT_POSTFIELDS, $data);
        }
        curl_setopt($curl, CURLOPT_RETURNTRANSFER, 1);
        $output = curl_exec($curl);
        curl_close($curl);
        return $output;
    }
}
