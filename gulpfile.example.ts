// An example gulpfile: deploys example/app (a small Laravel-shaped app) with the settings in
// example/app/.attache.json. Copy it into your project as gulpfile.ts and drop the `cwd` option.
//
//   npx gulp --gulpfile gulpfile.example.ts --cwd . --tasks
//   npx gulp --gulpfile gulpfile.example.ts --cwd . deploy --server=production
import { series, src } from 'gulp';
import { attache, exec, upload } from 'gulp-attache';

const tasks = attache({ cwd: 'example/app' });
const { deploy, rollback, activate, releases, prune, unlock, steps } = tasks;
// Attaché's other commands: init, install, releases:delete, releases:down/up, servers:list, ssh.
// `delete` is a reserved word, so it is exported under its name from another binding.
const { init, install, down, up, servers, ssh, delete: deleteRelease } = tasks;

export { deploy, rollback, activate, releases, prune, unlock, init, install, deleteRelease as delete, down, up, servers, ssh };

// The same steps in a series of your own, with your tasks between them.
async function announce() {
  console.log('release prepared; switching live now');
}

export const deployAnnounced = series(
  steps.build,
  steps.connect,
  steps.lock,
  steps.release,
  steps.clone,
  steps.shared,
  steps.composer,
  steps.artisan,
  steps.migrate,
  steps.assets,
  announce,
  steps.live,
  steps.health,
  steps.prune,
  steps.unlock,
);

// And the plugins alone: push a folder of files to a server, then run a command there.
export function pushDocs() {
  return src('docs/**/*', { encoding: false })
    .pipe(upload({ server: 'deploy@example.com', dest: '/var/www/docs' }))
    .pipe(exec('ls | wc -l', { server: 'deploy@example.com', cwd: '/var/www/docs' }));
}
