/** The console's shell: sign-in, the navigation, the kill-switch banner on every screen, the live follower. */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, api, call, onSignedOut, type Schemas } from './api';
import { type LinkState, LiveEvents, type VpnEvent } from './live';
import { ActionsScreen } from './screens/actions';
import { ConfigScreen } from './screens/config';
import { DnsScreen } from './screens/dns';
import { EventsScreen } from './screens/events';
import { HostScreen } from './screens/host';
import { KillSwitchScreen } from './screens/kill-switch';
import { RoutesScreen } from './screens/routes';
import { StatusScreen } from './screens/status';
import { EMPTY_STATE, RATE_HISTORY, type Rate, rateBetween, readState } from './state';
import { ConsoleContext } from './ui';

const SCREENS = [
  ['status', 'Status'],
  ['actions', 'Actions'],
  ['routes', 'Routes'],
  ['dns', 'DNS'],
  ['kill-switch', 'Kill switch'],
  ['config', 'Config'],
  ['events', 'Events'],
  ['host', 'Host'],
] as const;
type ScreenId = (typeof SCREENS)[number][0];

const MAX_EVENTS = 1000;

function screenOf(hash: string): ScreenId {
  const id = hash.replace(/^#\/?/, '');
  return SCREENS.find(([s]) => s === id)?.[0] ?? 'status';
}

function Login({ onSignedIn, notice }: { onSignedIn(me: Schemas['AuthSession']): void; notice: string | undefined }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <h1>vpnsvc console</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          call(api.POST('/auth/login', { body: { token: token.trim() } }))
            .then((me) => {
              setToken('');
              onSignedIn(me);
            })
            .catch((err: Error) =>
              setError(
                err instanceof ApiError && err.status === 401 ? `Sign-in refused: ${err.body.message} (${err.body.error})` : err.message,
              ),
            )
            .finally(() => setBusy(false));
        }}
      >
        {notice ? <p role="status">{notice}</p> : null}
        <label>
          Token
          <input type="password" name="token" autocomplete="off" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        </label>
        <p class="hint">
          The admin token is in <code>$VPNSVC_STATE_DIR/admin.token</code>. The browser keeps only a session cookie, never the token.
        </p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
    </main>
  );
}

function Shell({ me, onSignOut }: { me: Schemas['AuthSession']; onSignOut(notice?: string): void }) {
  const [screen, setScreen] = useState<ScreenId>(screenOf(location.hash));
  const [state, setState] = useState(EMPTY_STATE);
  const [events, setEvents] = useState<VpnEvent[]>([]);
  const [rates, setRates] = useState<Rate[]>([]);
  const [link, setLink] = useState<LinkState>('connecting');
  const last = useRef<{ t: number; name: string; c: Schemas['Counters'] } | undefined>(undefined);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const refresh = useCallback(async () => {
    setState(await readState());
  }, []);
  /** Many events come in a burst (a bulk add): one re-read after them. */
  const refreshSoon = useCallback(() => {
    clearTimeout(pending.current);
    pending.current = setTimeout(() => void refresh(), 100);
  }, [refresh]);

  useEffect(() => {
    const onHash = () => setScreen(screenOf(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    void refresh();
    const live = new LiveEvents({
      event: (e) => {
        setEvents((old) => [...old.slice(-(MAX_EVENTS - 1)), e]);
        refreshSoon();
      },
      lost: refreshSoon,
      state: (s) => {
        setLink(s);
        // A follower refused or cut: the session may have ended (logout elsewhere, the token removed).
        if (s === 'reconnecting') {
          void call(api.GET('/auth/me')).catch(() => undefined);
        }
      },
      counters: (m) => {
        const iface = m.data.interfaces[0];
        if (!iface) {
          last.current = undefined;
          return;
        }
        const cur = { t: Date.parse(m.time) / 1000, name: iface.name, c: iface.counters };
        const prev = last.current;
        last.current = cur;
        // The live counters also update the status screen between REST reads.
        setState((s) => ({ ...s, interfaces: s.interfaces.map((i) => (i.name === iface.name ? { ...i, counters: iface.counters } : i)) }));
        if (!prev || prev.name !== cur.name) return;
        const rate = rateBetween(prev, cur);
        if (rate) setRates((old) => [...old.slice(-(RATE_HISTORY - 1)), rate]);
      },
    });
    const off = onSignedOut(() => onSignOut('Your session has ended: sign in again.'));
    return () => {
      off();
      live.stop();
      clearTimeout(pending.current);
    };
  }, [refresh, refreshSoon, onSignOut]);

  const active = state.interfaces[0]?.name;
  const stream = useMemo(
    () => [...events].reverse().find((e) => (e.type === 'stream.attached' || e.type === 'stream.detached') && e.interface === active),
    [events, active],
  );
  const fw = state.firewall;
  const body = {
    status: <StatusScreen />,
    actions: <ActionsScreen />,
    routes: <RoutesScreen />,
    dns: <DnsScreen />,
    'kill-switch': <KillSwitchScreen />,
    config: <ConfigScreen />,
    events: <EventsScreen link={link} />,
    host: <HostScreen />,
  }[screen];
  return (
    <ConsoleContext.Provider value={{ me, state, rates, events, stream, refresh }}>
      <header>
        <span class="brand">vpnsvc</span>
        <nav aria-label="Screens">
          {SCREENS.map(([id, label]) => (
            <a key={id} href={`#/${id}`} aria-current={screen === id ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          <span class={`dot ${link}`} title={`event follower: ${link}`} />
          <span class="sr-only">event follower: {link}</span>
          {me.tokenId}
          <button
            type="button"
            onClick={() => {
              void call(api.POST('/auth/logout')).finally(() => onSignOut('Signed out.'));
            }}
          >
            Sign out
          </button>
        </span>
      </header>
      {fw?.blocked ? (
        <div class="banner" role="alert" data-testid="block-banner">
          Kill switch on: traffic is blocked except through {fw.vpnInterface ?? 'the VPN'} and the allowed networks
          {fw.originalInterface ? ` on ${fw.originalInterface}` : ''}. It stays after a restart until unblocked.{' '}
          <a href="#/kill-switch">Kill switch</a>
        </div>
      ) : null}
      <main>
        <h1>{SCREENS.find(([id]) => id === screen)?.[1]}</h1>
        {body}
      </main>
    </ConsoleContext.Provider>
  );
}

export function App() {
  const [me, setMe] = useState<Schemas['AuthSession'] | undefined>();
  const [checked, setChecked] = useState(false);
  const [notice, setNotice] = useState<string | undefined>();
  useEffect(() => {
    call(api.GET('/auth/me'))
      .then(setMe)
      .catch(() => undefined)
      .finally(() => setChecked(true));
  }, []);
  const signOut = useCallback((why?: string) => {
    setMe(undefined);
    setNotice(why);
  }, []);
  if (!checked) return <p>Loading…</p>;
  return me ? <Shell me={me} onSignOut={signOut} /> : <Login onSignedIn={setMe} notice={notice} />;
}
