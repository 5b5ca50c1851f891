<?php
// Composer's classmap autoloader, as vendor/composer/autoload_classmap.php
// lists a legacy class kept under lib/.
spl_autoload_register(function ($class) {
    $classMap = array('class_weixin' => __DIR__ . '/lib/weixin.class.php');
    if (isset($classMap[$class])) {
        require $classMap[$class];
    }
});
$weixin = new class_weixin();
$ip = $weixin->get_callback_ip();
echo "Composer classmap: ", isset($ip['ip_list']) ? 'ok' : json_encode($ip), "\n";
