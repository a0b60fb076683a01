/** Actions: create (vpnsvc_init), edit staged settings and apply, the session name, deinit. */
import { useEffect, useState } from 'preact/hooks';
import { api, call } from '../api';
import { Act, Feedback, Section, useAction, useConsole } from '../ui';

function CreateForm() {
  const { state } = useConsole();
  const [name, setName] = useState('vpn0');
  const a = useAction();
  const active = state.interfaces[0];
  return (
    <Section title="Create an interface">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void a.run(() => call(api.POST('/interfaces', { body: { name } })), `created ${name}`);
        }}
      >
        <label>
          Interface name
          <input name="name" value={name} required maxLength={15} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        {active ? <p class="warn">Creating replaces the active VPN interface {active.name}, with its routes, DNS and stream.</p> : null}
        <Act op="createInterface" type="submit" busy={a.busy}>
          Create
        </Act>
        <Feedback error={a.error} done={a.done} />
      </form>
    </Section>
  );
}

function SettingsForm({ name }: { name: string }) {
  const { state } = useConsole();
  const iface = state.interfaces[0]!;
  const [mtu, setMtu] = useState(String(iface.staged.mtu));
  const [localIp, setLocalIp] = useState(iface.staged.localIp ?? '');
  const [remoteIp, setRemoteIp] = useState(iface.staged.remoteIp ?? '');
  const [blocking, setBlocking] = useState(iface.blocking);
  const save = useAction();
  const apply = useAction();
  useEffect(() => {
    setMtu(String(iface.staged.mtu));
    setLocalIp(iface.staged.localIp ?? '');
    setRemoteIp(iface.staged.remoteIp ?? '');
    setBlocking(iface.blocking);
  }, [iface.name, iface.staged.mtu, iface.staged.localIp, iface.staged.remoteIp, iface.blocking]);
  const body = () => ({ mtu: Number(mtu), localIp: localIp.trim() || null, remoteIp: remoteIp.trim() || null, blocking });
  return (
    <Section title={`Settings of ${name}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run(() => call(api.PATCH('/interfaces/{name}', { params: { path: { name } }, body: body() })), 'staged');
        }}
      >
        <div class="grid">
          <label>
            MTU
            <input name="mtu" type="number" min={68} max={65535} value={mtu} onInput={(e) => setMtu(e.currentTarget.value)} />
          </label>
          <label>
            Local address (IPv4)
            <input name="localIp" value={localIp} placeholder="10.8.0.2" onInput={(e) => setLocalIp(e.currentTarget.value)} />
          </label>
          <label>
            Remote address (IPv4)
            <input name="remoteIp" value={remoteIp} placeholder="10.8.0.1" onInput={(e) => setRemoteIp(e.currentTarget.value)} />
          </label>
          <label class="check">
            <input type="checkbox" name="blocking" checked={blocking} onChange={(e) => setBlocking(e.currentTarget.checked)} />
            Blocking fd
          </label>
        </div>
        <Act op="updateInterface" type="submit" busy={save.busy}>
          Stage settings
        </Act>
        <Act
          op="applyInterfaceSettings"
          busy={apply.busy}
          onClick={() =>
            void apply.run(async () => {
              await call(api.PATCH('/interfaces/{name}', { params: { path: { name } }, body: body() }));
              await call(api.POST('/interfaces/{name}/apply', { params: { path: { name } } }));
            }, 'applied: the kernel has the settings')
          }
        >
          Stage and apply
        </Act>
        <Feedback error={save.error ?? apply.error} done={save.done ?? apply.done} />
      </form>
    </Section>
  );
}

function SessionForm() {
  const { state } = useConsole();
  const [session, setSession] = useState(state.interfaces[0]?.session ?? '');
  const a = useAction();
  return (
    <Section title="Session name">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void a.run(() => call(api.PUT('/session', { body: { name: session } })), 'session named');
        }}
      >
        <label>
          Session
          <input name="session" value={session} maxLength={255} onInput={(e) => setSession(e.currentTarget.value)} />
        </label>
        <Act op="setSession" type="submit" busy={a.busy}>
          Set session
        </Act>
        <Feedback error={a.error} done={a.done} />
      </form>
    </Section>
  );
}

function Deinit({ name, a }: { name: string; a: ReturnType<typeof useAction> }) {
  const [confirming, setConfirming] = useState(false);
  return (
    <Section title="Remove the interface">
      {confirming ? (
        <fieldset class="confirm">
          <legend>Confirm removal</legend>
          <p>Remove {name}? Its routes, DNS servers and packet stream go with it; a kill switch block stays.</p>
          <Act
            op="deleteInterface"
            variant="danger"
            busy={a.busy}
            onClick={() =>
              void a
                .run(() => call(api.DELETE('/interfaces/{name}', { params: { path: { name } } })), `removed ${name}`)
                .then(() => setConfirming(false))
            }
          >
            Yes, remove {name}
          </Act>
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </fieldset>
      ) : (
        <Act op="deleteInterface" variant="danger" onClick={() => setConfirming(true)}>
          Deinit…
        </Act>
      )}
    </Section>
  );
}

export function ActionsScreen() {
  const { state } = useConsole();
  const iface = state.interfaces[0];
  // Kept here: the removal's outcome outlives the interface's sections.
  const removal = useAction();
  return (
    <>
      <Feedback error={removal.error} done={removal.done} />
      <CreateForm />
      {iface ? (
        <>
          <SettingsForm key={iface.name} name={iface.name} />
          <SessionForm key={`s-${iface.name}`} />
          <Deinit name={iface.name} a={removal} />
        </>
      ) : null}
    </>
  );
}
