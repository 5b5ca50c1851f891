<?php
/*
 * Fixture (shape 5, written for this project): a class of the same name
 * with an API of its own: no http_request(), getAccessToken() caching to a
 * file, httpGet()/httpPost().
 */
class class_weixin
{
    private $appId;
    private $appSecret;

    public function __construct($appId, $appSecret)
    {
        $this->appId = $appId;
        $this->appSecret = $appSecret;
    }

    public function getAccessToken()
    {
        $file = __DIR__ . "/access_token.json";
        $data = is_file($file) ? json_decode(file_get_contents($file)) : null;
        if (!$data || $data->expire_time < time()) {
            $url = "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=$this->appId&secret=$this->appSecret";
            $res = json_decode($this->httpGet($url));
            $data = (object) array('access_token' => $res->access_token, 'expire_time' => time() + 7000);
            file_put_contents($file, json_encode($data));
        }
        return $data->access_token;
    }

    public function getCallbackIp()
    {
        return json_decode($this->httpGet("https://api.weixin.qq.com/cgi-bin/getcallbackip?access_token=" . $this->getAccessToken()), true);
    }

    public function httpPost($url, $data)
    {
        $curl = curl_init($url);
        curl_setopt($curl, CURLOPT_POST, 1);
        curl_setopt($curl, CURLOPT_POSTFIELDS, $data);
        curl_setopt($curl, CURLOPT_RETURNTRANSFER, true);
        $res = curl_exec($curl);
        curl_close($curl);
        return $res;
    }

    private function httpGet($url)
    {
        $curl = curl_init($url);
        curl_setopt($curl, CURLOPT_RETURNTRANSFER, true);
        curl_setopt($curl, CURLOPT_TIMEOUT, 5);
        $res = curl_exec($curl);
        curl_close($curl);
        return $res;
    }
}
