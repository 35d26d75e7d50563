import { AttacheError } from '../../errors';
import { sh } from '../../remote/quote';
import { liveReleaseOf, type Deploy, type ServerRun, type Step } from '../lifecycle/context';
import { phpCommand } from '../model/tools';

/**
 * Commands that act on state every server shares, so a fleet runs them once: queue:restart and
 * schedule:interrupt set a flag in the (shared) cache, cache:clear empties it. horizon:terminate is
 * not among them: it signals only the Horizon masters of the host it runs on, like octane:reload.
 */
export const SHARED_STATE_COMMANDS: ReadonlySet<string> = new Set(['queue:restart', 'schedule:interrupt', 'cache:clear']);

/**
 * `"restart": [...]`: artisan commands run in the new release once it is live and passed the health
 * check (so workers never restart into a release that is then swapped back). A failure is a
 * warning: the swap was healthy and stays.
 */
export const restart: Step = {
  name: 'restart',
  description: 'the "restart" artisan commands (queue:restart, horizon:terminate, …) in the new release, after the swap',
  appliesTo: (server) => server.restart.length > 0 && !server.skip.includes('artisan'),
  async run(run, deploy) {
    if (run.keptPrevious) return; // a rollout left it on its previous release: nothing new to restart into
    const dir = run.layout.release(liveReleaseOf(run, deploy));
    const once = onceServer(deploy);
    for (const command of run.server.restart) {
      const words = command.trim().split(/\s+/);
      if (SHARED_STATE_COMMANDS.has(words[0]) && once !== run) {
        run.log.info(`[${run.server.name}] artisan ${command}: run once for the fleet, on ${once?.server.name}`);
        continue;
      }
      try {
        const { stdout } = await run.target.exec(sh`${phpCommand(run.server)} artisan ${words}`, {
          cwd: dir,
          output: 'info',
          step: 'restart',
        });
        // `artisan reload` exits 0 when a service it reloads fails: its FAIL line says so.
        const failed = stdout.split('\n').find((line) => /\bFAIL\b/.test(line));
        if (failed) throw new AttacheError(failed.trim(), { step: 'restart' });
      } catch (error) {
        const tool = error instanceof AttacheError ? error.what : String(error);
        run.log.warn(
          `[${run.server.name}] artisan ${command} failed after the swap (${tool}); the new release stays live. ` +
            `Run it by hand: cd ${run.layout.live} && ${phpCommand(run.server).text} artisan ${command}`,
        );
      }
    }
  },
};

/** The server of a fleet that runs the shared-state commands: the migrating one, else the first. */
function onceServer(deploy: Deploy): ServerRun | undefined {
  const candidates = deploy.servers.filter((run) => run.server.restart.length > 0 && !run.server.skip.includes('artisan'));
  return candidates.find((run) => run.server.migrate) ?? candidates[0];
}
