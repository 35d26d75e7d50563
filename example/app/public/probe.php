<?php

/*
 * What a Laravel app needs of its permissions, checked by a request: read a value from the shared
 * .env, write to storage/logs and bootstrap/cache (both may belong to the deploy user, while the
 * web server runs as another). Answers 500 naming what it could not do.
 */
$base = dirname(realpath(__FILE__), 2);
header('Content-Type: text/plain');

$env = @file_get_contents("$base/.env");
if ($env === false) {
    http_response_code(500);
    echo "cannot read $base/.env\n";
    exit;
}
$value = preg_match('/^PROBE=(.*)$/m', $env, $m) ? trim($m[1]) : '';

foreach (["$base/storage/logs/web.log", "$base/bootstrap/cache/web.txt"] as $file) {
    if (@file_put_contents($file, "request\n", FILE_APPEND) === false) {
        http_response_code(500);
        echo "cannot write $file\n";
        exit;
    }
}
$user = function_exists('posix_geteuid') ? (posix_getpwuid(posix_geteuid())['name'] ?? '?') : '?';
echo "env: $value\nwrote: storage/logs/web.log bootstrap/cache/web.txt\nuser: $user\nrelease: " . basename($base) . "\n";
