import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestHome } from '../../support/sshd';

/**
 * A real deploy user other than root, for what depends on the server's user: its login shell
 * (zsh, dash), what it may write. Created with useradd (the tests run as root) and removed by
 * `remove()`; the test HOME's key is in its ~/.ssh/authorized_keys.
 */
export interface DeployUser {
  name: string;
  home: string;
  uid: number;
  gid: number;
  remove(): void;
}

export function createDeployUser(home: TestHome, name: string, shell: string): DeployUser {
  if (process.getuid?.() !== 0) throw new Error(`creating the deploy user ${name} needs root (useradd); run the tests as root, as CI does`);
  removeUser(name); // left by a run that was killed
  // '*' and not useradd's default '!': sshd without PAM refuses a locked account even for a key login.
  execFileSync('useradd', ['--create-home', '--shell', shell, '--password', '*', name], { stdio: 'pipe' });
  const dir = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':')[5];
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const ssh = path.join(dir, '.ssh');
  mkdirSync(ssh, { mode: 0o700 });
  writeFileSync(path.join(ssh, 'authorized_keys'), home.publicKey + '\n', { mode: 0o600 });
  chownSync(ssh, uid, gid);
  chownSync(path.join(ssh, 'authorized_keys'), uid, gid);
  return { name, home: dir, uid, gid, remove: () => removeUser(name) };
}

/** A directory (and its parents below the user's home) owned by the user. */
export function userDirectory(user: DeployUser, ...parts: string[]): string {
  let dir = user.home;
  for (const part of parts) {
    dir = path.join(dir, part);
    mkdirSync(dir, { recursive: true });
    chownSync(dir, user.uid, user.gid);
  }
  return dir;
}

function removeUser(name: string): void {
  try {
    execFileSync('userdel', ['--remove', name], { stdio: 'pipe' });
  } catch {}
}
