<?php

/*
 * The release directory is releases/<id>/ when deployed; this file is <release>/public/index.php.
 * realpath() matters: served through root/live/public it must name the release that live points
 * at now (nginx passes $realpath_root, so this is already resolved; realpath keeps it true for
 * any other setup). Not deployed, it names the app directory.
 */
$base = dirname(realpath(__FILE__), 2);
$release = basename($base);

$autoload = "$base/vendor/autoload.php";
if (!is_file($autoload)) {
    http_response_code(500);
    header('Content-Type: text/plain');
    echo "vendor/autoload.php is missing: run composer install in $base\n";
    exit;
}
require $autoload;

// APP_NAME from the (shared, symlinked) .env, so a page shows that .env reached the release.
$name = 'Example';
if (is_file("$base/.env") && preg_match('/^APP_NAME=(.*)$/m', (string) file_get_contents("$base/.env"), $m)) {
    $name = trim($m[1], " \t\"'\r");
}

$css = "$base/public/css/app.css";
$asset = is_file($css) ? rtrim((string) fgets(fopen($css, 'r')), "\r\n") : 'none';

$e = fn (string $s): string => htmlspecialchars($s, ENT_QUOTES);
$greeting = new App\Greeting($name);

header('Content-Type: text/html; charset=utf-8');
header('Cache-Control: no-store');
header('X-Release: ' . $release);
?>
<!doctype html>
<html>
<head><title><?= $e($name) ?></title></head>
<body>
<h1><?= $e($greeting->text()) ?></h1>
<pre>
release: <?= $e($release) ?>

asset: <?= $e($asset) ?>

</pre>
</body>
</html>
