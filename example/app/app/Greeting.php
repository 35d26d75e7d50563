<?php

namespace App;

/** The one piece of "business logic": proves that Composer's autoloader is in place. */
final class Greeting
{
    public function __construct(private string $name)
    {
    }

    public function text(): string
    {
        return "Hello from {$this->name}!";
    }
}
