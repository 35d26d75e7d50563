import type { HookStem, Step } from './context';

/**
 * A task's series as data: a step, branches that run side by side (each a series of steps), a
 * phase with hooks around its parts (Attaché's "deploy": clone through migrate), or the rollout:
 * steps that run server by server, batch by batch (the swap and what checks it: rollout.ts).
 */
export type PlanPart = Step | { together: Step[][] } | { phase: HookStem; parts: PlanPart[] } | { rollout: Step[] };

/** Every step of a series, flat, in order. */
export function stepsOf(parts: readonly PlanPart[]): Step[] {
  return parts.flatMap((part) =>
    'together' in part ? part.together.flat() : 'phase' in part ? stepsOf(part.parts) : 'rollout' in part ? part.rollout : [part],
  );
}

/** The steps of the series' rollout part (none when it has none). */
export function rolloutOf(parts: readonly PlanPart[]): Step[] {
  return parts.flatMap((part) => ('rollout' in part ? part.rollout : 'phase' in part ? rolloutOf(part.parts) : []));
}

/** The steps that run in a branch beside another (they must not start work once the deploy has failed). */
export function stepsInBranches(parts: readonly PlanPart[]): Step[] {
  return parts.flatMap((part) => ('together' in part ? part.together.flat() : 'phase' in part ? stepsInBranches(part.parts) : []));
}

/** A named stretch of a series with hooks around the whole of it (Attaché's "deploy": clone through migrate). */
export interface Phase {
  hooks: HookStem;
  steps: ReadonlySet<Step>;
}

/** The phases of a series and the steps inside each, so that their hooks fire around their first and last step. */
export function phasesOf(parts: readonly PlanPart[]): Phase[] {
  return parts.flatMap((part) =>
    'phase' in part ? [{ hooks: part.phase, steps: new Set(stepsOf(part.parts)) }, ...phasesOf(part.parts)] : [],
  );
}

/**
 * The series with one step replaced by others (none: left out), wherever it stands: at the top,
 * in a phase, in a branch. A part left with one branch becomes that branch's steps; an empty
 * branch goes.
 */
export function replaceStep(parts: readonly PlanPart[], step: Step, by: readonly Step[]): PlanPart[] {
  return parts.flatMap((part): PlanPart[] => {
    if (part === step) return [...by];
    if ('phase' in part) return [{ phase: part.phase, parts: replaceStep(part.parts, step, by) }];
    if ('rollout' in part) return [{ rollout: part.rollout.flatMap((s) => (s === step ? [...by] : [s])) }];
    if (!('together' in part)) return [part];
    const branches = part.together.map((branch) => branch.flatMap((s) => (s === step ? [...by] : [s]))).filter((branch) => branch.length);
    return branches.length === 1 ? branches[0] : [{ together: branches }];
  });
}
