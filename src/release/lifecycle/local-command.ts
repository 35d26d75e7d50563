import { AttacheError } from '../../errors';
import type { Logger } from '../../log';
import { LocalTarget } from '../../remote/local';

/** Lines of the command's output an error shows. */
const TAIL_LINES = 20;

/**
 * A command of the build or of a local hook, run by the local shell in the project directory. A
 * failure names it as local (not as a server's), keeps the tool's own first error line
 * (`yarn: not found`) and, for the build, says how to choose another build or none.
 */
export async function runLocalCommand(
  command: string,
  options: { cwd: string; log: Logger; step: string; signal?: AbortSignal },
): Promise<void> {
  const result = await new LocalTarget('local', options.log).exec(command, {
    cwd: options.cwd,
    output: 'info',
    step: options.step,
    check: false,
    signal: options.signal,
  });
  // Stopped because the deploy failed elsewhere (a server unreachable): that failure is the one to tell.
  if (options.signal?.aborted) throw new AttacheError(`the local ${options.step} was stopped: the deploy failed`, { step: options.step });
  if (result.code === 0 && !result.signal) return;
  const status = result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
  const first = firstErrorLine(result.stderr) ?? lastLine(result.stdout);
  const what = options.step === 'build' ? 'build command' : `${options.step} hook`;
  const output = (result.stderr.trim() || result.stdout.trim()).split(/\r?\n/).slice(-TAIL_LINES).join('\n');
  throw new AttacheError(`the local ${what} \`${command}\` failed (${status}${first ? `: ${first}` : ''})`, {
    step: options.step,
    ...(output && { output }),
    hint:
      options.step === 'build'
        ? BUILD_HINT
        : `Local hooks run on this machine in ${options.cwd}; run the command there by hand to see the whole output.`,
  });
}

const BUILD_HINT =
  'The build runs on this machine in the project directory; by default its package manager runs `build` in a Vite app (a vite.config.* in the project) and `prod` otherwise, `yarn prod` without package.json scripts. Choose another with ' +
  '"scripts": { "build": ["npm run build"] } in .attache.json, or your own gulp task with attache({ build: myTask }), ' +
  'or switch it off with attache({ build: false }) ("build": [] in .attache.json does the same).';

/** The shell's own prefix (`/bin/sh: 1: yarn: not found`) is plumbing: the tool's message is what matters. */
function firstErrorLine(text: string): string | undefined {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '');
  return line?.replace(/^(?:\/bin\/)?(?:sh|bash|dash)(?:: line \d+)?: (?:\d+: )?/, '').trim();
}

function lastLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .at(-1)
    ?.trim();
}
