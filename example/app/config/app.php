<?php

// Read by the artisan stand-in's config:cache (and optimize), as Laravel's config files are.
return [
    'name' => 'Example',
    'env' => 'production',
];
