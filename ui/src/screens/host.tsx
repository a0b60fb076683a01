/** Host: what the VPN feature needs and lacks (GET /features), the daemon's version and uptime. */
import { Section, useConsole } from '../ui';

function uptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${d > 0 ? `${d} d ` : ''}${h} h ${m} min ${Math.floor(seconds % 60)} s`;
}

export function HostScreen() {
  const { state, me } = useConsole();
  const f = state.features;
  const h = state.health;
  return (
    <>
      <Section title="Daemon">
        <dl class="facts">
          <dt>Version</dt>
          <dd>{h?.version ?? '—'}</dd>
          <dt>Uptime</dt>
          <dd>{h ? uptime(h.uptimeSeconds) : '—'}</dd>
          <dt>Signed in as</dt>
          <dd>
            token {me.tokenId} ({me.privileges.join(', ') || 'no privileges'})
          </dd>
          {me.expiresAt ? (
            <>
              <dt>Session ends</dt>
              <dd>
                {new Date(me.idleExpiresAt ?? me.expiresAt).toLocaleString()} if idle, {new Date(me.expiresAt).toLocaleString()} at the
                latest
              </dd>
            </>
          ) : null}
        </dl>
      </Section>
      <Section title="VPN feature">
        {f ? (
          <>
            <p data-testid="supported">{f.supported ? `${f.feature}: supported` : `${f.feature}: NOT supported on this host`}</p>
            <dl class="facts">
              <dt>/dev/net/tun</dt>
              <dd>{f.tunDevice ? 'opens' : 'missing: load the tun module (modprobe tun)'}</dd>
              <dt>CAP_NET_ADMIN</dt>
              <dd>{f.netAdmin ? 'held' : 'missing: run as root or grant CAP_NET_ADMIN (systemd AmbientCapabilities)'}</dd>
              <dt>nftables</dt>
              <dd>
                {f.nft.available
                  ? `available${f.nft.version ? ` (${f.nft.version})` : ''}`
                  : 'missing: install nftables for the kill switch'}
              </dd>
              <dt>DNS backend</dt>
              <dd>{f.dnsBackend ?? 'none yet'}</dd>
            </dl>
            {f.missing.length > 0 ? (
              <>
                <h3>Missing, and how to fix it</h3>
                <ul>
                  {f.missing.map((m) => (
                    <li key={m}>{m}</li>
                  ))}
                </ul>
              </>
            ) : null}
          </>
        ) : (
          <p class="error">{state.errors.features ?? 'loading…'}</p>
        )}
      </Section>
    </>
  );
}
