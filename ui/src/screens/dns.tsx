/** DNS: the VPN's servers and search domains, the resolver backend and what it means for leaks. */
import { useState } from 'preact/hooks';
import { api, call, type Schemas } from '../api';
import { Act, Feedback, Section, useAction, useConsole } from '../ui';

const LEAK: Record<Schemas['Dns']['leakProtection'], string> = {
  exclusive: 'Exclusive: the resolver lists only the VPN’s servers; no query goes to the LAN’s.',
  'routing-domain': 'Routing domain “~.”: systemd-resolved sends every query to the VPN link.',
  fallback: 'Fallback: the VPN’s servers come first, the LAN’s stay listed after them; queries they do not answer reach the LAN.',
  none: 'None: the LAN’s servers get queries too (no VPN server yet, or systemd-resolved without “~.”).',
};

export function DnsScreen() {
  const { state } = useConsole();
  const [server, setServer] = useState('');
  const [domain, setDomain] = useState('');
  const a = useAction();
  const dns = state.dns;
  if (!dns) return <p class="error">{state.errors.dns ?? 'loading…'}</p>;
  return (
    <>
      <Section title="Resolver">
        <dl class="facts">
          <dt>Backend</dt>
          <dd>{dns.backend}</dd>
          {dns.resolvConf ? (
            <>
              <dt>File</dt>
              <dd>
                <code>{dns.resolvConf}</code>
              </dd>
            </>
          ) : null}
          <dt>Leak protection</dt>
          <dd data-testid="leak">{LEAK[dns.leakProtection]}</dd>
          <dt>Interface</dt>
          <dd>{dns.interface ?? 'none active'}</dd>
        </dl>
      </Section>
      <Section title="DNS servers">
        <ul class="items" data-testid="dns-servers">
          {dns.servers.length === 0 ? <li>none</li> : null}
          {dns.servers.map((s) => (
            <li key={s}>
              <code>{s}</code>{' '}
              <Act
                op="removeDnsServer"
                onClick={() => void a.run(() => call(api.DELETE('/dns/{server}', { params: { path: { server: s } } })), `removed ${s}`)}
              >
                Remove <span class="sr-only">{s}</span>
              </Act>
            </li>
          ))}
        </ul>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void a
              .run(() => call(api.POST('/dns', { body: { server: server.trim() } })), `added ${server}`)
              .then((ok) => ok && setServer(''));
          }}
        >
          <label>
            DNS server
            <input name="server" value={server} placeholder="10.8.0.53" onInput={(e) => setServer(e.currentTarget.value)} />
          </label>
          <Act op="addDnsServer" type="submit" busy={a.busy} disabled={!dns.interface}>
            Add server
          </Act>
        </form>
      </Section>
      <Section title="Search domains">
        <ul class="items">
          {dns.domains.length === 0 ? <li>none</li> : null}
          {dns.domains.map((d) => (
            <li key={d}>
              <code>{d}</code>{' '}
              <Act
                op="removeSearchDomain"
                onClick={() =>
                  void a.run(() => call(api.DELETE('/dns/domains/{domain}', { params: { path: { domain: d } } })), `removed ${d}`)
                }
              >
                Remove <span class="sr-only">{d}</span>
              </Act>
            </li>
          ))}
        </ul>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void a
              .run(() => call(api.POST('/dns/domains', { body: { domain: domain.trim() } })), `added ${domain}`)
              .then((ok) => ok && setDomain(''));
          }}
        >
          <label>
            Search domain (~ for routing only)
            <input name="domain" value={domain} placeholder="corp.example" onInput={(e) => setDomain(e.currentTarget.value)} />
          </label>
          <Act op="addSearchDomain" type="submit" busy={a.busy} disabled={!dns.interface}>
            Add domain
          </Act>
        </form>
        <Feedback error={a.error} done={a.done} />
      </Section>
    </>
  );
}
