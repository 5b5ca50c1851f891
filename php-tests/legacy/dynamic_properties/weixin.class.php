<?php
/*
 * Fixture (shape 2, written for this project): a copy whose methods add
 * properties on the fly (expires_time, lasttime, jsapi_ticket, jsapi_expire,
 * cardapi_ticket), none of them declared.
 */
define('APPID', 'wx0000000000000002');
define('APPSECRET', '00000000000000000000000000000002');

class class_weixin
{
    var $appid = APPID;
    var $appsecret = APPSECRET;

    public function __construct($appid = NULL, $appsecret = NULL)
    {
        if ($appid && $appsecret) {
            $this->appid = $appid;
            $this->appsecret = $appsecret;
        }
        $mem = new Memcache;
        $mem->connect('localhost', 11211);
        $this->access_token = $mem->get('access_token');
        $this->lasttime = time();
        if (!$this->access_token) {
            $res = json_decode($this->http_request("https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=".$this->appid."&secret=".$this->appsecret), true);
            $this->access_token = $res['access_token'];
            $this->expires_time = time() + $res['expires_in'];
            $mem->set('access_token', $this->access_token, 0, 7200);
        }
    }

    public function get_jsapi_ticket_cached()
    {
        if (empty($this->jsapi_ticket) || $this->jsapi_expire < time()) {
            $res = json_decode($this->http_request("https://api.weixin.qq.com/cgi-bin/ticket/getticket?type=jsapi&access_token=".$this->access_token), true);
            $this->jsapi_ticket = $res['ticket'];
            $this->jsapi_expire = time() + 7000;
        }
        return $this->jsapi_ticket;
    }

    public function get_card_ticket_cached()
    {
        if (empty($this->cardapi_ticket)) {
            $res = json_decode($this->http_request("https://api.weixin.qq.com/cgi-bin/ticket/getticket?type=wx_card&access_token=".$this->access_token), true);
            $this->cardapi_ticket = $res['ticket'];
        }
        return $this->cardapi_ticket;
    }

    protected function http_request($url, $data = null)
    {
        $curl = curl_init();
        curl_setopt($curl, CURLOPT_URL, $url);
        if (!empty($data)) {
            curl_setopt($curl, CURLOPT_POST, 1);
            curl_setopt($curl, CURLOPT_POSTFIELDS, $data);
        }
        curl_setopt($curl, CURLOPT_RETURNTRANSFER, 1);
        $output = curl_exec($curl);
        curl_close($curl);
        return $output;
    }
}
