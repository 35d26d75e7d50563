/**
 * The exit code the process ends with: gulp-cli turns an exit with tasks pending (a third Ctrl-C,
 * the fallback timer) into 1 from its own 'exit' listener, which was registered before this one.
 */
export function exitWith(code: number): void {
  process.exitCode = code;
  process.once('exit', () => {
    if (process.exitCode === 1) process.exitCode = code;
  });
}

/**
 * Leaves now with `code`, as a third Ctrl-C asks, after the deploy has said what it leaves where.
 * No 'exit' listener runs: gulp-cli's would report the steps still pending as "did not complete.
 * Did you forget to signal async completion?" (a task's bug, not a user who chose to leave) and make
 * the code 1.
 */
export function exitNow(code: number): never {
  process.removeAllListeners('exit');
  process.exit(code);
}

/** Ctrl-C and SIGTERM go to `handler` until the returned function is called. */
export function onInterrupt(handler: (signal: NodeJS.Signals) => void): () => void {
  // `on`, not `once`: a second and third Ctrl-C are ours too (the default would kill mid-undo).
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
