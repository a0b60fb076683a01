/** Routes: the kernel's routes through the VPN, add and remove, and many pasted at once (all or nothing). */
import { useState } from 'preact/hooks';
import { ApiError, api, call } from '../api';
import { Act, Feedback, linesOf, parseCidr, Section, useAction, useConsole } from '../ui';

/** The entry a bulk refusal names ("routes[3]: ..."), so the error shows beside its line. */
function failedIndex(err: unknown): number | undefined {
  const m = err instanceof ApiError ? /routes\[(\d+)\]/.exec(err.body.message) : null;
  return m ? Number(m[1]) : undefined;
}

function BulkAdd() {
  const [text, setText] = useState('');
  const [perEntry, setPerEntry] = useState<{ line: string; error: string }[]>([]);
  const a = useAction();
  const submit = async () => {
    const lines = linesOf(text);
    const parsed = lines.map(parseCidr);
    const bad = parsed.flatMap((p, i) => (typeof p === 'string' ? [{ line: lines[i]!, error: p }] : []));
    setPerEntry(bad);
    if (bad.length > 0 || lines.length === 0) {
      a.setError(
        lines.length === 0
          ? 'paste at least one route'
          : `${bad.length} of ${lines.length} entries are not address/prefix: nothing was added`,
      );
      return;
    }
    const routes = parsed.filter((p): p is { address: string; prefix: number } => typeof p !== 'string');
    const ok = await a.run(async () => {
      try {
        await call(api.POST('/routes', { body: routes }));
      } catch (err) {
        const i = failedIndex(err);
        if (i !== undefined && lines[i]) setPerEntry([{ line: lines[i], error: (err as Error).message }]);
        throw err;
      }
    }, `added ${routes.length} routes`);
    if (ok) {
      setText('');
      setPerEntry([]);
    }
  };
  return (
    <Section title="Add many routes">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label>
          Routes, one address/prefix per line (or comma-separated)
          <textarea
            name="bulk"
            rows={5}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            placeholder={'10.10.0.0/16\n192.168.50.0/24\nfd00::/8'}
          />
        </label>
        <Act op="addRoutes" type="submit" busy={a.busy}>
          Add all (all or nothing)
        </Act>
        {perEntry.length > 0 ? (
          <ul class="entry-errors" aria-label="Entries refused">
            {perEntry.map((p) => (
              <li key={p.line}>
                <code>{p.line}</code>: {p.error}
              </li>
            ))}
          </ul>
        ) : null}
        <Feedback error={a.error} done={a.done} />
      </form>
    </Section>
  );
}

export function RoutesScreen() {
  const { state } = useConsole();
  const [route, setRoute] = useState('');
  const add = useAction();
  const remove = useAction();
  if (!state.interfaces[0]) return <p>No VPN interface is active: routes go through one.</p>;
  return (
    <>
      <Section title="Routes in the kernel">
        {state.errors.routes ? <p class="error">{state.errors.routes}</p> : null}
        <div class="scroll">
          <table data-testid="routes">
            <thead>
              <tr>
                <th scope="col">Destination</th>
                <th scope="col">
                  <span class="sr-only">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {state.routes.length === 0 ? (
                <tr>
                  <td colSpan={2}>none</td>
                </tr>
              ) : (
                state.routes.map((r) => (
                  <tr key={`${r.address}/${r.prefix}`}>
                    <td>
                      <code>
                        {r.address}/{r.prefix}
                      </code>
                    </td>
                    <td class="narrow">
                      <Act
                        op="removeRoute"
                        busy={remove.busy}
                        onClick={() =>
                          void remove.run(
                            () =>
                              call(
                                api.DELETE('/routes/{address}/{prefix}', { params: { path: { address: r.address, prefix: r.prefix } } }),
                              ),
                            `removed ${r.address}/${r.prefix}`,
                          )
                        }
                      >
                        Remove <span class="sr-only">{`${r.address}/${r.prefix}`}</span>
                      </Act>
                    </td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
        </div>
        <Feedback error={remove.error} done={remove.done} />
      </Section>
      <Section title="Add a route">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const p = parseCidr(route.trim());
            if (typeof p === 'string') {
              add.setError(p);
              return;
            }
            void add.run(() => call(api.POST('/routes', { body: p })), `added ${route}`).then((ok) => ok && setRoute(''));
          }}
        >
          <label>
            Route (address/prefix)
            <input name="route" value={route} placeholder="10.10.0.0/16" onInput={(e) => setRoute(e.currentTarget.value)} />
          </label>
          <Act op="addRoutes" type="submit" busy={add.busy}>
            Add route
          </Act>
          <Feedback error={add.error} done={add.done} />
        </form>
      </Section>
      <BulkAdd />
    </>
  );
}
