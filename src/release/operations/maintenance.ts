import path from 'node:path/posix';
import { AttacheError } from '../../errors';
import { sh } from '../../remote/quote';
import { artisanCommand } from '../model/tools';
import type { ServerRun, Step } from '../lifecycle/context';

export function maintenanceStep(command: 'down' | 'up'): Step {
  return {
    name: command,
    description: `php artisan ${command} in the live release`,
    run: (run) => maintenance(run, command),
  };
}

/** Attaché's `releases:down` / `releases:up`: `php artisan down|up` in the live release. */
export async function maintenance(run: ServerRun, command: 'down' | 'up'): Promise<void> {
  const { target, layout, server } = run;
  if (!(await target.stat(path.join(layout.live, 'artisan')))) {
    throw new AttacheError(`there is no live release with an artisan on ${server.name} (${layout.live})`, {
      server: server.name,
      hint: 'Deploy first (gulp deploy or gulp install).',
    });
  }
  await target.exec(sh`${artisanCommand(server, 'artisan')} ${command}`, { cwd: layout.live, output: 'info', step: command });
  run.log.info(
    `[${server.name}] ${command === 'down' ? 'down for maintenance' : 'out of maintenance mode'} (php artisan ${command} in ${layout.live})`,
  );
}
