import { createLogger, type Logger, type Verbosity } from '../../src/log';

/** A logger whose lines are kept for assertions instead of printed. */
export function captureLogger(verbosity: Verbosity = 'verbose'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ verbosity, write: (line) => lines.push(line), interactive: false, ci: null });
  return { log, lines };
}
