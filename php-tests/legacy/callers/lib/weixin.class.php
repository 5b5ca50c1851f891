<?php
/*
 * Fixture (shape 7, written for this project): the class as its callers
 * load it: require_once from the same directory, include_once '../...',
 * a framework's loader (vendor()), Composer's classmap, and namespaced
 * code calling new \class_weixin().
 */
define('APPID', 'wx0000000000000007');
define('APPSECRET', '00000000000000000000000000000007');

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
        $mem->connect('localhost', 11211) or die("Could not connect");
        $this->access_token = $mem->get('access_token');
        if (empty($this->access_token)) {
            $url = "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=".$this->appid."&secret=".$this->appsecret;
            $result = json_decode($this->http_request($url), true);
            $this->access_token = $result["access_token"];
            $mem->set('access_token', $this->access_token, 0, 7200);
        }
    }

    public function get_callback_ip()
    {
        $url = "https://api.weixin.qq.com/cgi-bin/getcallbackip?access_token=".$this->access_token;
        return json_decode($this->http_request($url), true);
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
