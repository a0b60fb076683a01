/** Kill switch: block (vpnsvc_block_networks) with the two allow-lists and the original interface, unblock. */
import { useState } from 'preact/hooks';
import { api, call, type Schemas } from '../api';
import { Act, Feedback, linesOf, parseCidr, Section, useAction, useConsole } from '../ui';

function prefixes(text: string, what: string): Schemas['NetworkPrefix'][] {
  return linesOf(text).map((l) => {
    const p = parseCidr(l);
    if (typeof p === 'string') throw new Error(`${what}: ${p}`);
    return p;
  });
}

const shown = (list: Schemas['NetworkPrefix'][]) =>
  list.length === 0 ? 'nothing' : list.map((p) => `${p.address}/${p.prefix}`).join(', ');

export function KillSwitchScreen() {
  const { state } = useConsole();
  const fw = state.firewall;
  const [allowVpn, setAllowVpn] = useState('0.0.0.0/0\n::/0');
  const [allowOriginal, setAllowOriginal] = useState('');
  const [original, setOriginal] = useState('');
  const [allowLan, setAllowLan] = useState(false);
  const a = useAction();
  return (
    <>
      <Section title="State">
        {fw ? (
          <dl class="facts" data-testid="firewall">
            <dt>Blocked</dt>
            <dd>{fw.blocked ? 'yes: only the allowed networks are reachable' : 'no'}</dd>
            <dt>VPN interface</dt>
            <dd>{fw.vpnInterface ?? '—'}</dd>
            <dt>Allowed through the VPN</dt>
            <dd>{shown(fw.allowVpn)}</dd>
            <dt>Original interface</dt>
            <dd>{fw.originalInterface ?? '—'}</dd>
            <dt>Allowed through it</dt>
            <dd>{shown(fw.allowOriginal)}</dd>
            <dt>LAN</dt>
            <dd>{fw.allowLan ? 'allowed: its own prefixes, link-local and multicast' : 'blocked'}</dd>
          </dl>
        ) : (
          <p class="error">{state.errors.firewall ?? 'loading…'}</p>
        )}
      </Section>
      <Section title="Block">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void a.run(async () => {
              const body: Schemas['FirewallBlock'] = {
                allowVpn: prefixes(allowVpn, 'allowed through the VPN'),
                allowOriginal: prefixes(allowOriginal, 'allowed through the original interface'),
                ...(original.trim() ? { originalInterface: original.trim() } : {}),
                ...(allowLan && { allowLan: true }),
              };
              await call(api.PUT('/firewall', { body }));
            }, 'blocked');
          }}
        >
          <div class="grid">
            <label>
              Networks allowed through the VPN (one per line)
              <textarea name="allowVpn" rows={3} value={allowVpn} onInput={(e) => setAllowVpn(e.currentTarget.value)} />
            </label>
            <label>
              Networks allowed through the original interface
              <textarea
                name="allowOriginal"
                rows={3}
                value={allowOriginal}
                placeholder="192.168.1.0/24"
                onInput={(e) => setAllowOriginal(e.currentTarget.value)}
              />
            </label>
            <label>
              Original interface (default: the default route's)
              <input name="originalInterface" value={original} placeholder="eth0" onInput={(e) => setOriginal(e.currentTarget.value)} />
            </label>
          </div>
          <label class="check">
            <input type="checkbox" name="allowLan" checked={allowLan} onChange={(e) => setAllowLan(e.currentTarget.checked)} />
            Allow the LAN (the original interface's own networks, link-local and multicast)
          </label>
          <Act op="blockNetworks" type="submit" busy={a.busy}>
            Block
          </Act>
          <Act
            op="unblockNetworks"
            busy={a.busy}
            disabled={!fw?.blocked}
            onClick={() => void a.run(() => call(api.DELETE('/firewall')), 'unblocked')}
          >
            Unblock
          </Act>
          <Feedback error={a.error} done={a.done} />
        </form>
      </Section>
    </>
  );
}
