<?php

/**
 * IDE stub for the `weixin` extension (PhpStorm, PHPStan, Psalm): what the
 * extension registers, for tools that cannot load it. Never include it in
 * code that runs with the extension loaded. php-tests/stub_matches_extension.phpt
 * fails when this file and the extension disagree.
 *
 * INI settings (all PHP_INI_ALL):
 * @ini weixin.appid ""                                 AppID used when no argument, subclass default or APPID constant gives one
 * @ini weixin.appsecret ""                             AppSecret, likewise (masked by php --ri)
 * @ini weixin.memcache_servers "localhost:11211"       memcached servers, comma-separated host:port or unix:///path
 * @ini weixin.memcache_protocol "auto"                 auto: meta commands where the server has them, classic text commands elsewhere; meta; text
 * @ini weixin.memcache_distribution "memcache"        which legacy client's placement of keys over several servers: memcache (PECL memcache's ring) or memcached (PECL memcached's default, modula)
 * @ini weixin.cache_key "access_token"                 memcached key; {appid} is replaced by the AppID
 * @ini weixin.api_base_url "https://api.weixin.qq.com" WeChat API base URL
 * @ini weixin.timeout "5"                              timeout in seconds of http_request() calls
 * @ini weixin.max_reply_size "32M"                    largest reply body http_request() reads (bytes, or with K, M or G), in [1K, 1G]; PHP's memory_limit applies too
 * @ini weixin.token_timeout "5"                        timeout in seconds of a token request (at most 30)
 * @ini weixin.ca_file ""                               extra trusted CA bundle (PEM) on top of the system store
 * @ini weixin.proxy ""                                 HTTP(S) proxy URL for every request (empty: none; environment proxies ignored)
 * @ini weixin.refresh_margin "300"                     seconds before expiry at which a token is due for replacement
 * @ini weixin.memcache_timeout "0.25"                  memcached connect/read/write timeout in seconds
 * @ini weixin.local_cache_ttl "60"                     seconds a process reuses a token without asking memcached (0: never)
 * @ini weixin.use_stable_token "0"                     1: POST /cgi-bin/stable_token instead of GET /cgi-bin/token
 * @ini weixin.auto_refresh "1"                         1: http_request() replaces a refused token (40001, 40014, 42001) and retries once
 * @ini weixin.daily_quota_warning "1600"               one E_WARNING per process once the day's GET /cgi-bin/token requests for the AppID (all servers) pass this (stable tokens and tickets are counted apart, never warned; 0: off)
 */

/**
 * Gets and caches the WeChat Official Account access token: a drop-in
 * replacement for the legacy userland class of the same name. One token per
 * account is shared by every process through memcached; at most one process
 * asks WeChat at a time.
 *
 * Declared when code first asks for it (new, extends, class_exists(), ...),
 * so that a script declaring a class_weixin of its own keeps it: until then
 * class_exists('class_weixin', false) is false. Properties that legacy
 * methods add on the fly are allowed.
 */
#[\AllowDynamicProperties]
class class_weixin
{
    /** The AppID in use (after construction: whichever source supplied it). */
    public $appid = null;

    /** The AppSecret in use. Masked in var_dump()/print_r(). */
    public $appsecret = null;

    /** A valid access token (after construction). */
    public $access_token = null;

    /**
     * Reads the token (process-local cache, then memcached) and fetches one
     * from WeChat only when nobody has one.
     *
     * Both arguments count only as a pair of non-empty values; otherwise each
     * credential comes from the object's property (a subclass default), then
     * the constant APPID/APPSECRET, then INI weixin.appid/weixin.appsecret.
     * Further arguments are ignored, as the legacy constructor ignored them.
     *
     * @throws WeixinException when no credentials are configured, or when no
     *         valid token exists and WeChat fails (errcode as the code)
     */
    public function __construct(?string $appid = null, #[\SensitiveParameter] ?string $appsecret = null, mixed ...$ignored) {}

    /**
     * GET when $data is empty; otherwise POST: a string as the body
     * (application/x-www-form-urlencoded), an array as multipart/form-data
     * (CURLFile and CURLStringFile values upload files).
     *
     * @param string $url
     * @param string|array|null $data
     * @return string|false the reply body whatever the HTTP status; false and
     *         an E_WARNING on a transport failure, like curl_exec()
     */
    protected function http_request($url, $data = null) {}

    /**
     * After an API refused $this->access_token (errcode 40001, 40014 or
     * 42001): a new token, shared by every process, fetched only if nobody
     * replaced the bad one already. Updates $this->access_token.
     *
     * @throws WeixinException when WeChat fails
     */
    public function refresh_access_token(): string {}

    /**
     * The account's JS-SDK ticket (type jsapi), kept like the token: one
     * upstream request for every process (memcached key KEY:jsapi_ticket,
     * KEY being the token's key), replaced ahead of expiry. A ticket request
     * refused with 40001, 40014 or 42001 replaces the token (only if nobody
     * has yet) and is asked again once.
     *
     * @throws WeixinException when no valid ticket exists and WeChat fails
     */
    public function get_jsapi_ticket(): string {}

    /**
     * A ticket of $type 'jsapi' (as get_jsapi_ticket()) or 'wx_card'
     * (memcached key KEY:wx_card_ticket).
     *
     * @throws WeixinException for another $type, or as get_jsapi_ticket()
     */
    public function get_ticket(string $type = 'jsapi'): string {}

    /**
     * What wx.config() takes for the page at $url (its full URL; a #... part
     * is ignored): debug, appId, timestamp (int), nonceStr (16 letters and
     * digits), signature (SHA-1 of jsapi_ticket, noncestr, timestamp and
     * url, as the JS-SDK documentation's appendix 1 says), jsApiList and
     * openTagList. The ticket itself is not in it.
     *
     * @param string[] $jsApiList
     * @param string[] $openTagList
     * @return array{debug: bool, appId: string, timestamp: int, nonceStr: string, signature: string, jsApiList: string[], openTagList: string[]}
     * @throws WeixinException when $url is empty, or as get_jsapi_ticket()
     */
    public function jssdk_config(string $url, array $jsApiList = [], bool $debug = false, array $openTagList = []): array {}

    /** What var_dump() and print_r() show: the properties, appsecret masked. */
    public function __debugInfo(): array {}
}

/**
 * The same class as class_weixin (same members, same behaviour), under the
 * name a legacy copy of class_weixin extends to get its token from the
 * extension and keep its own methods:
 *
 *     class class_weixin extends class_weixin_native { ...its methods, without its constructor... }
 *
 * Members as documented on class_weixin.
 */
#[\AllowDynamicProperties]
class class_weixin_native
{
    public $appid = null;

    public $appsecret = null;

    public $access_token = null;

    public function __construct(?string $appid = null, #[\SensitiveParameter] ?string $appsecret = null, mixed ...$ignored) {}

    protected function http_request($url, $data = null) {}

    public function refresh_access_token(): string {}

    public function get_jsapi_ticket(): string {}

    public function get_ticket(string $type = 'jsapi'): string {}

    public function jssdk_config(string $url, array $jsApiList = [], bool $debug = false, array $openTagList = []): array {}

    public function __debugInfo(): array {}
}

/**
 * Every failure of the extension. getCode() is WeChat's errcode, or 0 for
 * configuration, transport and format errors; the message says what to check.
 */
class WeixinException extends RuntimeException
{
}
