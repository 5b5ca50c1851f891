<?php
/*
 * The baseline: a userland class that behaves like the legacy class_weixin
 * (../shared/seed/class_weixin.php): a new memcached connection and a get on
 * every construction, curl on a miss. Only the addresses are parameters, so
 * that it talks to the benchmark's memcached and WeChat stand-in.
 */
class class_weixin
{
    var $appid = APPID;
    var $appsecret = APPSECRET;
    var $access_token;

    public function __construct($appid = NULL, $appsecret = NULL)
    {
        if ($appid && $appsecret) {
            $this->appid = $appid;
            $this->appsecret = $appsecret;
        }
        $mem = new Memcache;
        @$mem->connect(BENCH_MEMCACHED_HOST, BENCH_MEMCACHED_PORT) or die("Could not connect");
        $this->access_token = $mem->get('access_token');
        if (empty($this->access_token)) {
            $url = BENCH_API . "/cgi-bin/token?grant_type=client_credential&appid=" . $this->appid . "&secret=" . $this->appsecret;
            $res = $this->http_request($url);
            $result = json_decode($res, true);
            $this->access_token = $result["access_token"];
            $mem->set('access_token', $this->access_token, 0, 7200);
        }
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
