/**
 * The whole VPN as one document, the same one `vpnsvc apply -f` and PUT /config take: read back
 * from the kernel, edited as YAML, planned (dry run), applied with an optional confirm-or-revert
 * deadline; and the saved profiles, with always-on and lockdown.
 */
import { useEffect, useState } from 'preact/hooks';
import { parse, stringify } from 'yaml';
import { api, call, type Schemas } from '../api';
import { Act, Feedback, Section, useAction, useConsole } from '../ui';

type Result = Schemas['ConfigResult'];

function readDocument(text: string): Schemas['ConfigDocument'] {
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    throw new Error(`the document is not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('the document is a mapping of interface, routes, dns and firewall');
  return value as Schemas['ConfigDocument'];
}

function change(c: Schemas['ConfigChange']): string {
  if (c.from === null) return `+ ${c.what}${c.to !== null && !c.what.endsWith(c.to) ? ` ${c.to}` : ''}`;
  if (c.to === null) return `- ${c.what}${!c.what.endsWith(c.from) ? ` ${c.from}` : ''}`;
  return `~ ${c.what}: ${c.from} → ${c.to}`;
}

function Plan({ result }: { result: Result }) {
  if (result.steps.length === 0) return <p data-testid="plan">No changes: the host already matches the document.</p>;
  return (
    <ol class="plan" data-testid="plan">
      {result.steps.map((s) => (
        <li key={`${s.op}-${s.summary}`}>
          <strong>{s.op}</strong>: {s.summary}
          <ul>
            {s.changes.map((c) => (
              <li key={c.what}>
                <code>{change(c)}</code>
              </li>
            ))}
          </ul>
        </li>
      ))}
    </ol>
  );
}

/** The revert deadline of the last apply, until it is confirmed or the daemon reverts it. */
function usePending(): [Result['confirm'], (c: Result['confirm']) => void] {
  const { events } = useConsole();
  const [pending, setPending] = useState<Result['confirm']>(null);
  const last = events[events.length - 1];
  useEffect(() => {
    if (pending && last && (last.type === 'config.reverted' || last.type === 'config.confirmed')) setPending(null);
  }, [last, pending]);
  return [pending, setPending];
}

function Profiles({ documentText }: { documentText: string }) {
  const [profiles, setProfiles] = useState<Schemas['ProfileList']>([]);
  const [name, setName] = useState('');
  const [alwaysOn, setAlwaysOn] = useState(false);
  const [lockdown, setLockdown] = useState(false);
  const [plan, setPlan] = useState<Result | undefined>();
  const a = useAction();
  const reload = () =>
    call(api.GET('/profiles'))
      .then(setProfiles)
      .catch((err: Error) => a.setError(err.message));
  useEffect(() => void reload(), []);
  const run = (what: () => Promise<unknown>, ok: string) => void a.run(what, ok).then(() => reload());
  return (
    <Section title="Profiles">
      <ul class="items" data-testid="profiles">
        {profiles.length === 0 ? <li>none saved</li> : null}
        {profiles.map((p) => (
          <li key={p.name}>
            <code>{p.name}</code>
            {p.alwaysOn ? ' always-on' : ''}
            {p.lockdown ? ' lockdown' : ''}{' '}
            <Act
              op="upProfile"
              onClick={() =>
                run(async () => {
                  setPlan(await call(api.POST('/profiles/{name}/up', { params: { path: { name: p.name } } })));
                }, `applied profile ${p.name}`)
              }
            >
              Apply <span class="sr-only">{p.name}</span>
            </Act>{' '}
            <Act
              op="deleteProfile"
              variant="danger"
              onClick={() =>
                run(() => call(api.DELETE('/profiles/{name}', { params: { path: { name: p.name } } })), `removed profile ${p.name}`)
              }
            >
              Remove <span class="sr-only">{p.name}</span>
            </Act>
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          run(async () => {
            const body: Schemas['Profile'] = { ...readDocument(documentText), alwaysOn, lockdown };
            await call(api.PUT('/profiles/{name}', { params: { path: { name: name.trim() } }, body }));
          }, `saved profile ${name.trim()}`);
        }}
      >
        <label>
          Save the document above as profile
          <input name="profile" required value={name} placeholder="office" onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" name="alwaysOn" checked={alwaysOn} onChange={(e) => setAlwaysOn(e.currentTarget.checked)} />
          Always on (applied whenever the daemon starts)
        </label>
        <label class="check">
          <input type="checkbox" name="lockdown" checked={lockdown} onChange={(e) => setLockdown(e.currentTarget.checked)} />
          Lockdown (its block stays in place if applying fails)
        </label>
        <Act op="saveProfile" type="submit" busy={a.busy}>
          Save profile
        </Act>
      </form>
      {plan ? <Plan result={plan} /> : null}
      <Feedback error={a.error} done={a.done} />
    </Section>
  );
}

export function ConfigScreen() {
  const { events } = useConsole();
  const [text, setText] = useState('');
  const [loaded, setLoaded] = useState<string | undefined>();
  const [result, setResult] = useState<Result | undefined>();
  const [confirmWithin, setConfirmWithin] = useState('');
  const [pending, setPending] = usePending();
  const a = useAction();
  const load = () =>
    call(api.GET('/config'))
      .then((doc) => {
        const yaml = stringify(doc);
        setText(yaml);
        setLoaded(yaml);
      })
      .catch((err: Error) => a.setError(err.message));
  useEffect(() => void load(), []);
  // The document follows the host (each event is a change) until it is edited here.
  useEffect(() => {
    if (loaded !== undefined && text === loaded) void load();
  }, [events.length]);

  const submit = (dryRun: boolean) =>
    void a.run(
      async () => {
        const within = confirmWithin.trim();
        if (within !== '' && !/^\d{1,4}$/.test(within)) throw new Error(`"${within}" is not a number of seconds`);
        const query = { ...(dryRun && { dryRun: true }), ...(!dryRun && within !== '' && { confirmWithinS: Number(within) }) };
        const r = await call(api.PUT('/config', { body: readDocument(text), params: { query } }));
        setResult(r);
        if (!dryRun) {
          setPending(r.confirm);
          const yaml = stringify(r.config);
          setText(yaml);
          setLoaded(yaml);
        }
      },
      dryRun ? 'planned: nothing was changed' : 'applied',
    );

  return (
    <>
      <Section title="Document">
        <p class="hint">
          The whole VPN (interface, routes, DNS, kill switch) as the kernel has it: the document <code>vpnsvc apply -f</code> and{' '}
          <code>PUT /config</code> take. A part left out is not managed; <code>null</code> removes it.
        </p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            submit(false);
          }}
        >
          <label>
            Document (YAML or JSON)
            <textarea name="document" rows={16} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <label>
            Revert unless confirmed within (seconds, empty: no revert)
            <input
              name="confirmWithin"
              inputMode="numeric"
              value={confirmWithin}
              onInput={(e) => setConfirmWithin(e.currentTarget.value)}
            />
          </label>
          <Act op="putConfig" busy={a.busy} onClick={() => submit(true)}>
            Plan (dry run)
          </Act>{' '}
          <Act op="putConfig" type="submit" busy={a.busy}>
            Apply
          </Act>{' '}
          <button type="button" onClick={() => void load()} disabled={a.busy}>
            Reload from the host
          </button>
        </form>
        {pending ? (
          <div class="banner" role="alert" data-testid="pending-confirm">
            Applied: reverts at {new Date(pending.deadline).toLocaleTimeString()} unless confirmed.{' '}
            <Act
              op="confirmConfig"
              onClick={() =>
                void a.run(async () => {
                  await call(api.POST('/config/confirm'));
                  setPending(null);
                }, 'confirmed: the change stays')
              }
            >
              Confirm
            </Act>
          </div>
        ) : null}
        {result ? <Plan result={result} /> : null}
        <Feedback error={a.error} done={a.done} />
      </Section>
      <Profiles documentText={text} />
    </>
  );
}
