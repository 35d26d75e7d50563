#!/usr/bin/env node
// The example app's asset build, in place of Laravel Mix: plain Node, no dependencies, so the
// tests need nothing but Node. The output depends only on the inputs (no timestamps), so two
// builds of one commit are byte-identical and the versioned names in mix-manifest.json match.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = __dirname;
const read = (file) => fs.readFileSync(path.join(root, file), 'utf8');
const write = (file, data) => {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), data);
};

// The first line is what public/index.php shows as "asset:"; keep it fixed.
const css = '/* example css */\n' + read('resources/css/app.css');
const js = '/* example js */\n' + read('resources/js/app.js') + '//# sourceMappingURL=app.js.map\n';

// A source map followed by every byte value: deliberately not valid UTF-8, so a deploy that
// treats uploaded files as text (encoding, line endings) changes it and a byte comparison fails.
const map = JSON.stringify({ version: 3, file: 'app.js', sources: ['../../resources/js/app.js'], names: [], mappings: '' });
const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

write('public/css/app.css', css);
write('public/js/app.js', js);
write('public/js/app.js.map', Buffer.concat([Buffer.from(map + '\n'), bytes]));

const version = (data) => crypto.createHash('sha1').update(data).digest('hex').slice(0, 8);
const manifest = {
  '/js/app.js': `/js/app.js?id=${version(js)}`,
  '/css/app.css': `/css/app.css?id=${version(css)}`,
};
write('public/mix-manifest.json', JSON.stringify(manifest, null, 4) + '\n');
console.log('Built public/js/app.js, public/css/app.css and public/mix-manifest.json');
