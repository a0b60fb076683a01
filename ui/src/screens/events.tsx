/** Events: the live log, newest first, with who caused each one; it resumes after a reconnect. */
import { useState } from 'preact/hooks';
import type { VpnEvent } from '../live';
import { Section, useConsole } from '../ui';

function summary(e: VpnEvent): string {
  const text = JSON.stringify(e.data);
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}

export function EventsScreen({ link }: { link: string }) {
  const { events } = useConsole();
  const [filter, setFilter] = useState('');
  const shown = events
    .filter((e) => !filter || e.type.includes(filter.trim()))
    .slice(-200)
    .reverse();
  return (
    <Section title="Event log">
      <p>
        Follower: <strong data-testid="link-state">{link}</strong>, {events.length} events kept.
      </p>
      <label>
        Filter by type
        <input type="search" name="filter" value={filter} placeholder="route" onInput={(e) => setFilter(e.currentTarget.value)} />
      </label>
      <div class="scroll">
        <table data-testid="events" aria-live="polite">
          <thead>
            <tr>
              <th scope="col">Seq</th>
              <th scope="col">Time</th>
              <th scope="col">Type</th>
              <th scope="col">Reason</th>
              <th scope="col">Data</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={`${e.epoch}:${e.seq}`}>
                <td>{e.seq}</td>
                <td class="time">{new Date(e.time).toLocaleTimeString()}</td>
                <td>
                  <code>{e.type}</code>
                  {e.interface ? ` (${e.interface})` : ''}
                </td>
                <td>
                  {e.reason.source}
                  {e.reason.token ? `, token ${e.reason.token}` : ''}
                  {e.reason.requestId ? <small class="rid"> request {e.reason.requestId}</small> : null}
                  {e.reason.detail ? <small> {e.reason.detail}</small> : null}
                </td>
                <td>
                  <code class="data">{summary(e)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}
