/**
 * A bench-only stand-in for a fix of a race in src/ssh/session.ts (SshSession.exec), used ONLY
 * where the bench says so (the fleet measurement, when the package as it is cannot finish a fleet
 * deploy; or every case with BENCH_EXEC_EXIT_SHIM=1). It never changes src/.
 *
 * The race: exec() awaits a promise resolved in ssh2's exec callback and only then attaches its
 * 'exit' listener. ssh2 calls that callback while parsing CHANNEL_SUCCESS and goes on, in the same
 * synchronous loop, with whatever else arrived in the same read: for a fast command that can be the
 * exit-status request too, so 'exit' is emitted before anyone listens. exec() then resolves the
 * status on 'close' as { code: null } and reports "command exited with code null", and the deploy
 * fails (and is rolled back). It needs a fast remote shell and a busy event loop (another step
 * uploading beside it, many servers at once). bench/repro-exec-exit-race.ts shows it alone.
 *
 * The fix in src would be to attach the 'exit' and 'close' listeners inside the exec callback. This
 * shim does the equivalent from the outside: it wraps ssh2's Client#exec so that the channel given
 * to the callback records its exit status at once, and an 'exit' listener added after the event
 * is called with the recorded status when it is added.
 */
import { Client } from 'ssh2';

type Listener = (...args: unknown[]) => void;
type ExecCallback = (error: Error | undefined, channel: unknown) => void;

const proto = Client.prototype as unknown as { exec: (...args: unknown[]) => unknown };
const original = proto.exec;
let installed = false;

export function installExecExitShim(): void {
  if (installed) return;
  installed = true;
  proto.exec = function (this: unknown, ...args: unknown[]) {
    const index = args.findIndex((a) => typeof a === 'function');
    if (index >= 0) {
      const callback = args[index] as ExecCallback;
      args[index] = (error: Error | undefined, channel: { once(e: string, l: Listener): unknown; on(e: string, l: Listener): unknown } | undefined) => {
        if (channel) {
          let exit: unknown[] | undefined;
          channel.once('exit', (...values: unknown[]) => (exit = values));
          const on = channel.on;
          channel.on = function (this: unknown, event: string, listener: Listener) {
            if (event === 'exit' && exit) {
              listener.apply(this, exit);
              return this;
            }
            return on.call(this, event, listener);
          };
        }
        callback(error, channel);
      };
    }
    return original.apply(this, args);
  };
}

export function uninstallExecExitShim(): void {
  if (!installed) return;
  installed = false;
  proto.exec = original;
}

export function execExitShimInstalled(): boolean {
  return installed;
}
