import { AttacheError, type ErrorContext } from '../errors';
import { describe } from './merge';

/**
 * A release directory's name: the deploy's UTC time, `YYYYMMDDhhmmss`, with `-N` (N from 2) when a
 * release already has that second. The one rule for every place that makes, lists, prunes or takes
 * an id from the command line: prune deletes what a listing names, so no other name may pass.
 */
export const RELEASE_ID = /^\d{14}(?:-[1-9]\d*)?$/;

export const isReleaseId = (id: unknown): id is string => typeof id === 'string' && RELEASE_ID.test(id);

/** Checks a release id given outside the file (a --release flag, an id about to be used); returns it. */
export function validateReleaseId(id: string, context: ErrorContext = {}): string {
  if (!isReleaseId(id)) {
    throw new AttacheError(`${typeof id === 'string' ? JSON.stringify(id) : describe(id)} is not a release id`, {
      hint: 'A release id is 14 digits (YYYYMMDDHHMMSS), optionally followed by -N: e.g. 20261126203000 or 20261126203000-2.',
      ...context,
    });
  }
  return id;
}
