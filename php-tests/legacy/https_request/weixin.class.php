<?php
/*
 * Fixture (shape 4, written for this project): the class_weixin_adv family,
 * whose helper is https_request() (protected here) instead of
 * http_request().
 */
define('APPID', 'wx0000000000000004');
define('APPSECRET', '00000000000000000000000000000004');

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
            $res = $this->https_request($url);
            $result = json_decode($res, true);
            $this->access_token = $result["access_token"];
            $mem->set('access_token', $this->access_token, 0, 7200);
        }
    }

    //获取服务器IP
    public function get_callback_ip()
    {
        $url = "https://api.weixin.qq.com/cgi-bin/getcallbackip?access_token=".$this->access_token;
        return json_decode($this->https_request($url), true);
    }

    //发送模板消息
    public function send_template_message($data)
    {
        $url = "https://api.weixin.qq.com/cgi-bin/message/template/send?access_token=".$this->access_token;
        return json_decode($this->https_request($url, $data), true);
    }

    protected function https_request($url, $data = null)
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
