--TEST--
WeixinException extends RuntimeException with the caller's file, line and trace; errcode as getCode()
--INI--
weixin.cache_key=exc_{appid}
--FILE--
<?php
require __DIR__ . '/helpers.inc';
$appid = test_appid('exc');
reset_account($appid, ['errcode' => 40001, 'errmsg' => 'invalid credential']);

function make_client($appid) {
    return new class_weixin($appid, TEST_SECRET); // line 7
}
try {
    make_client($appid);
} catch (RuntimeException $e) {
    var_dump(get_class($e), $e instanceof WeixinException, $e->getCode());
    var_dump(basename($e->getFile()), $e->getLine());
    echo $e->getTraceAsString(), "\n";
}
var_dump(get_parent_class('WeixinException'));
$r = new ReflectionClass('WeixinException');
var_dump($r->isInternal(), $r->isFinal());
?>
--EXPECTF--
string(15) "WeixinException"
bool(true)
int(40001)
string(%d) "exception_shape.php"
int(7)
#0 %sexception_shape.php(7): class_weixin->__construct('%s', Object(SensitiveParameterValue))
#1 %sexception_shape.php(10): make_client('%s')
#2 {main}
string(16) "RuntimeException"
bool(true)
bool(false)
