/** Pieces every screen uses: the shared context, an action's feedback, a button a token may lack the privilege for. */
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useId, useState } from 'preact/hooks';
import { type OperationId, refusal, type Schemas } from './api';
import type { VpnEvent } from './live';
import type { DaemonState, Rate } from './state';

export interface Console {
  me: Schemas['AuthSession'];
  state: DaemonState;
  rates: Rate[];
  events: VpnEvent[];
  /** The latest stream.attached / stream.detached event of the active interface. */
  stream: VpnEvent | undefined;
  refresh(): Promise<void>;
}

export const ConsoleContext = createContext<Console | undefined>(undefined);

export function useConsole(): Console {
  const c = useContext(ConsoleContext);
  if (!c) throw new Error('useConsole outside the console');
  return c;
}

/** Runs a call, then re-reads the state; keeps the error (the seed's name and message) or a success note. */
export function useAction() {
  const { refresh } = useConsole();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const run = async (what: () => Promise<unknown>, ok: string): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      await what();
      setDone(ok);
      return true;
    } catch (err) {
      setError((err as Error).message);
      return false;
    } finally {
      setBusy(false);
      await refresh();
    }
  };
  return { busy, error, done, run, setError };
}

export function Feedback({ error, done }: { error: string | undefined; done: string | undefined }) {
  if (error) {
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  }
  return done ? (
    <p class="ok" role="status">
      {done}
    </p>
  ) : null;
}

/** A button for one operation: disabled, with the reason beside it, when the token lacks its privilege. */
export function Act(props: {
  op: OperationId;
  onClick?: () => void;
  type?: 'button' | 'submit';
  busy?: boolean;
  disabled?: boolean;
  variant?: 'danger';
  children: ComponentChildren;
}) {
  const { me } = useConsole();
  const id = useId();
  const why = refusal(me, props.op);
  return (
    <span class="act">
      <button
        type={props.type ?? 'button'}
        class={props.variant}
        onClick={props.onClick}
        disabled={why !== undefined || props.busy || props.disabled}
        aria-describedby={why ? id : undefined}
      >
        {props.children}
      </button>
      {why ? (
        <small id={id} class="why">
          {why}
        </small>
      ) : null}
    </span>
  );
}

export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** Lines of a textarea, trimmed, without blanks and # comments. */
export function linesOf(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** "10.0.0.0/8" → a prefix; an error in words otherwise. */
export function parseCidr(text: string): { address: string; prefix: number } | string {
  const m = /^([0-9A-Fa-f:.]+)\/(\d{1,3})$/.exec(text);
  if (!m) return `"${text}" is not address/prefix (e.g. 10.0.0.0/8)`;
  return { address: m[1]!, prefix: Number(m[2]) };
}
