/** Status: the active interface as the kernel has it, staged vs applied, live counters, throughput, drops, the stream. */
import { ThroughputChart } from '../chart';
import { Section, useConsole } from '../ui';

export function StatusScreen() {
  const { state, rates, stream } = useConsole();
  const iface = state.interfaces[0];
  return (
    <>
      <Section title="Interface">
        {state.errors.interfaces ? <p class="error">{state.errors.interfaces}</p> : null}
        {iface ? (
          <dl class="facts" data-testid="interface-facts">
            <dt>Name</dt>
            <dd>{iface.name}</dd>
            <dt>Index</dt>
            <dd>{iface.index}</dd>
            <dt>State</dt>
            <dd>{iface.up ? 'up' : 'down'}</dd>
            <dt>Local address</dt>
            <dd>{iface.localIp ?? '—'}</dd>
            <dt>Remote address</dt>
            <dd>{iface.remoteIp ?? '—'}</dd>
            <dt>IPv6 address</dt>
            <dd>{iface.localIp6 ?? '—'}</dd>
            <dt>MTU</dt>
            <dd>{iface.mtu}</dd>
            <dt>Session</dt>
            <dd>{iface.session || '—'}</dd>
            <dt>Blocking fd</dt>
            <dd>{iface.blocking ? 'yes' : 'no'}</dd>
            <dt>Packet stream</dt>
            <dd>
              {stream?.type === 'stream.attached'
                ? `attached (${stream.reason.token ? `token ${stream.reason.token}` : stream.reason.source}) since ${new Date(stream.time).toLocaleTimeString()}`
                : 'not attached'}
            </dd>
          </dl>
        ) : (
          <p>No VPN interface is active. Create one under Actions.</p>
        )}
      </Section>
      {iface ? (
        <>
          <Section title="Staged and applied">
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Setting</th>
                    <th scope="col">Staged (next apply)</th>
                    <th scope="col">In the kernel</th>
                  </tr>
                </thead>
                <tbody>
                  {(
                    [
                      ['MTU', iface.staged.mtu, iface.mtu],
                      ['Local address', iface.staged.localIp, iface.localIp],
                      ['Remote address', iface.staged.remoteIp, iface.remoteIp],
                      ['IPv6 address', iface.staged.localIp6, iface.localIp6],
                    ] as const
                  ).map(([name, staged, applied]) => (
                    <tr key={name} class={String(staged ?? '') !== String(applied ?? '') ? 'pending' : undefined}>
                      <th scope="row">{name}</th>
                      <td>{staged ?? '—'}</td>
                      <td>{applied ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
          <Section title="Counters">
            <dl class="facts counters" data-testid="counters">
              <dt>Received</dt>
              <dd data-testid="rx-packets">
                {iface.counters.rxPackets} packets, {iface.counters.rxBytes} bytes
              </dd>
              <dt>Sent</dt>
              <dd data-testid="tx-packets">
                {iface.counters.txPackets} packets, {iface.counters.txBytes} bytes
              </dd>
            </dl>
            <ThroughputChart rates={rates} />
            <h3>Drops by reason</h3>
            <div class="scroll">
              <table>
                <tbody>
                  <tr>
                    <th scope="row">Kernel, receiving</th>
                    <td>{iface.counters.rxDropped}</td>
                  </tr>
                  <tr>
                    <th scope="row">Kernel, sending (no reader on the TUN)</th>
                    <td>{iface.counters.txDropped}</td>
                  </tr>
                  <tr>
                    <th scope="row">Stream client too slow</th>
                    <td>{iface.counters.streamDropped}</td>
                  </tr>
                  <tr>
                    <th scope="row">Client packets refused</th>
                    <td>{iface.counters.writeDropped}</td>
                  </tr>
                  <tr>
                    <th scope="row">Stream frames rejected</th>
                    <td>{iface.counters.framesRejected}</td>
                  </tr>
                </tbody>
              </table>
            </div>
          </Section>
        </>
      ) : null}
    </>
  );
}
