--TEST--
php --ri weixin: version and every weixin.* setting, the AppSecret masked (the proxy's password: proxy.phpt)
--INI--
weixin.appsecret=MYSECRETVALUE0123456789abcdefABC
weixin.appid=wx0000000000000000
--FILE--
<?php
ob_start();
phpinfo(INFO_MODULES);
$info = ob_get_clean();
$start = strpos($info, "\nweixin\n");
$section = substr($info, $start, strpos($info, "\n\n", strpos($info, 'Directive', $start)) - $start);
$section = preg_replace('/\d{4}-\d{2}-\d{2} Beijing/', 'YYYY-MM-DD Beijing', $section);
echo preg_replace('/=> \d+\.\d+\.\d+/', '=> X.Y.Z', preg_replace('/127\.0\.0\.1:\d+/', 'HOST:PORT', $section)), "\n";
var_dump(str_contains($info, 'MYSECRETVALUE'));
var_dump(phpversion('weixin') === (new ReflectionExtension('weixin'))->getVersion());
?>
--EXPECT--

weixin

weixin support => enabled
version => X.Y.Z

This process => Count
local cache hits => 0
memcached hits => 0
upstream calls => 0
upstream errors => 0
lock waits => 0
http_request() retries after a refused token => 0
settings read => 0
accounts held => 0
cache keys held => 0

WeChat daily quota => Value
token requests today (all servers) => 0 (AppID wx0000000000000000, YYYY-MM-DD Beijing time; WeChat allows 2000 a day)
stable token requests today (all servers) => 0 (AppID wx0000000000000000, YYYY-MM-DD Beijing time; WeChat allows 10000 a minute and 500000 a day)
ticket requests today (all servers) => 0 (AppID wx0000000000000000, YYYY-MM-DD Beijing time)

Directive => Local Value => Master Value
weixin.appid => wx0000000000000000 => wx0000000000000000
weixin.appsecret => ******** => ********
weixin.memcache_servers => HOST:PORT => HOST:PORT
weixin.memcache_protocol => auto => auto
weixin.memcache_distribution => memcache => memcache
weixin.cache_key => access_token => access_token
weixin.api_base_url => http://HOST:PORT => http://HOST:PORT
weixin.timeout => 5 => 5
weixin.max_reply_size => 32M => 32M
weixin.token_timeout => 5 => 5
weixin.ca_file => no value => no value
weixin.proxy => no value => no value
weixin.refresh_margin => 300 => 300
weixin.memcache_timeout => 0.25 => 0.25
weixin.local_cache_ttl => 60 => 60
weixin.use_stable_token => 0 => 0
weixin.auto_refresh => 1 => 1
weixin.daily_quota_warning => 1600 => 1600
bool(false)
bool(true)
