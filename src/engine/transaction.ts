/**
 * Ordered steps with their undo: all of them, or none. When a step fails, the steps done are
 * undone last first, so the host is left as it was; an undo that fails itself is reported, not
 * hidden, and the others still run.
 */

export interface TransactionStep {
  readonly op: string;
  run(): Promise<void> | void;
  undo(): Promise<void> | void;
  /**
   * The step's own undo also runs when the step itself failed: for a step whose failure can
   * leave part of it done (a resolver backend that wrote some of a change) and whose undo
   * restores a whole state, so it is safe whatever was done.
   */
  readonly undoOwnFailure?: boolean;
}

export class TransactionFailed extends Error {
  constructor(
    /** The op of the step that failed. */
    readonly step: string,
    readonly error: Error,
    /** Ops undone, last first. */
    readonly undone: string[],
    /** Undo steps that failed, with their errors. */
    readonly failures: string[],
  ) {
    super(`step ${step} failed: ${error.message}`);
  }
}

export async function runTransaction(steps: readonly TransactionStep[]): Promise<void> {
  const done: TransactionStep[] = [];
  for (const step of steps) {
    try {
      await step.run();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const undone: string[] = [];
      const failures: string[] = [];
      const toUndo = step.undoOwnFailure ? [step, ...done.reverse()] : done.reverse();
      for (const d of toUndo) {
        try {
          await d.undo();
          undone.push(d.op);
        } catch (undoErr) {
          failures.push(`${d.op}: ${(undoErr as Error).message}`);
        }
      }
      throw new TransactionFailed(step.op, error, undone, failures);
    }
    done.push(step);
  }
}
