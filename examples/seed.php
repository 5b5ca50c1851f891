<?php
/*
 * The source article's script, run against the extension: its class_weixin
 * is deleted, nothing else changes. Only the credentials may come from the
 * environment (WEIXIN_APPID / WEIXIN_APPSECRET) to talk to the real API.
 */
define("APPID", getenv("WEIXIN_APPID") ?: "wx1111111111111111");
define("APPSECRET", getenv("WEIXIN_APPSECRET") ?: "11111111111111111111111111111111");
$weixin = new class_weixin();
var_dump($weixin);
?>
