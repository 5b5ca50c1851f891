<?php
/*
 * Fixture (shape 6, written for this project): the request bodies legacy
 * copies build (urldecode(json_encode(...)) to keep Chinese readable, plain
 * json_encode, JSON written by hand, a string the caller encoded) and an
 * upload written as array('media' => '@' . $path), without CURLFile.
 */
define('APPID', 'wx0000000000000006');
define('APPSECRET', '00000000000000000000000000000006');

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

    //创建菜单: urlencode each name, then urldecode the JSON
    public function create_menu($buttons)
    {
        foreach ($buttons as &$button) {
            $button['name'] = urlencode($button['name']);
        }
        $data = urldecode(json_encode(array('button' => $buttons)));
        $url = "https://api.weixin.qq.com/cgi-bin/menu/create?access_token=".$this->access_token;
        return $this->http_request($url, $data);
    }

    //客服消息: plain json_encode (Chinese as \u escapes)
    public function send_custom_message($message)
    {
        $url = "https://api.weixin.qq.com/cgi-bin/message/custom/send?access_token=".$this->access_token;
        return $this->http_request($url, json_encode($message));
    }

    //文本消息: JSON by hand
    public function send_text($openid, $text)
    {
        $data = '{"touser":"'.$openid.'","msgtype":"text","text":{"content":"'.$text.'"}}';
        $url = "https://api.weixin.qq.com/cgi-bin/message/custom/send?access_token=".$this->access_token;
        return $this->http_request($url, $data);
    }

    //模板消息: the caller encoded it
    public function send_template_message($data)
    {
        $url = "https://api.weixin.qq.com/cgi-bin/message/template/send?access_token=".$this->access_token;
        return $this->http_request($url, $data);
    }

    //上传多媒体文件
    public function upload_media($type, $file)
    {
        $data = array('media' => '@'.$file);
        $url = "https://api.weixin.qq.com/cgi-bin/media/upload?access_token=".$this->access_token."&type=".$type;
        return $this->http_request($url, $data);
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
