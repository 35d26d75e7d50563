import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { checkHostKey, fingerprint, keyTypeOf, knownHostName, knownKeyTypes } from '../../src/ssh/known-hosts';

function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.alloc(4 + type.length + 4 + raw.length);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(raw.length, 4 + type.length);
  raw.copy(blob, 8 + type.length);
  return blob;
}

describe('known_hosts', () => {
  const key = ed25519Blob();
  const other = ed25519Blob();
  const line = (host: string, blob = key) => `${host} ssh-ed25519 ${blob.toString('base64')}`;

  it('names non-standard ports as [host]:port, as OpenSSH does', () => {
    assert.equal(knownHostName('example.com', 22), 'example.com');
    assert.equal(knownHostName('127.0.0.1', 2222), '[127.0.0.1]:2222');
  });

  it('knows a plain entry, and a host listed among others', () => {
    assert.equal(checkHostKey(line('web,example.com'), 'example.com', key).status, 'known');
  });

  it('does not take an entry for port 22 as one for another port', () => {
    assert.equal(checkHostKey(line('example.com'), '[example.com]:2222', key).status, 'unknown');
  });

  it('matches hashed entries', () => {
    const salt = Buffer.from('0123456789abcdef0123');
    const hash = createHmac('sha1', salt).update('[10.0.0.5]:2200').digest('base64');
    assert.equal(checkHostKey(line(`|1|${salt.toString('base64')}|${hash}`), '[10.0.0.5]:2200', key).status, 'known');
    assert.equal(checkHostKey(line(`|1|${salt.toString('base64')}|${hash}`), '[10.0.0.6]:2200', key).status, 'unknown');
  });

  it('honours wildcards and negation', () => {
    assert.equal(checkHostKey(line('*.example.com,!bad.example.com'), 'web.example.com', key).status, 'known');
    assert.equal(checkHostKey(line('*.example.com,!bad.example.com'), 'bad.example.com', key).status, 'unknown');
  });

  it('reports a changed key when the host has a different key of the same type', () => {
    const verdict = checkHostKey(`# comment\n${line('example.com', other)}`, 'example.com', key);
    assert.deepEqual(verdict, { status: 'changed', line: 2 });
  });

  it('refuses a key marked @revoked even when another line trusts it', () => {
    const text = `${line('example.com')}\n@revoked * ssh-ed25519 ${key.toString('base64')}`;
    assert.equal(checkHostKey(text, 'example.com', key).status, 'revoked');
  });

  it('lists the key types known for a host, and reads the type and fingerprint of a key', () => {
    assert.deepEqual(knownKeyTypes(line('example.com'), 'example.com'), ['ssh-ed25519']);
    assert.equal(keyTypeOf(key), 'ssh-ed25519');
    assert.match(fingerprint(key), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
