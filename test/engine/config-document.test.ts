/**
 * The document's shape and value checks and the plan's order, without a kernel: the host is a
 * HostView of the test's own (which devices exist, how a block resolves).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type BlockState,
  checkProfile,
  desiredState,
  type HostView,
  parseDocument,
  parseProfile,
  plan,
  toDocument,
  type VpnState,
} from '../../src/engine/config-document.js';
import { VpnsvcError } from '../../src/errors/errors.js';

const host = (devices: string[] = []): HostView => ({
  deviceExists: (name) => devices.includes(name),
  resolveBlock: (b, vpnInterface) => ({
    vpnInterface,
    originalInterface: b.originalInterface ?? 'eth0',
    allowVpn: b.allowVpn,
    allowOriginal: b.allowOriginal,
    allowLan: b.allowLan === true,
  }),
});

const NOTHING: VpnState = { interface: null, routes: [], dns: { servers: [], domains: [] }, firewall: null };
const BLOCK: BlockState = {
  vpnInterface: 'vpn0',
  originalInterface: 'eth0',
  allowVpn: [{ address: '0.0.0.0', prefix: 0 }],
  allowOriginal: [],
  allowLan: false,
};
const UP: VpnState = {
  interface: { name: 'vpn0', localIp: '10.0.0.1', remoteIp: '10.0.0.2', localIp6: null, mtu: 1500, session: 'VPN_Session', blocking: true },
  routes: [{ address: '10.1.0.0', prefix: 16 }],
  dns: { servers: ['10.0.0.53'], domains: [] },
  firewall: BLOCK,
};

function invalid(message: RegExp) {
  return (err: unknown) => err instanceof VpnsvcError && err.kind === 'VPNSVC_ERROR_INVALID_PARAMETER' && message.test(err.message);
}

test('the shape of a document from a file: unknown fields and wrong types are refused with their path', () => {
  assert.throws(() => parseDocument({ interfaces: {} }), invalid(/unknown field "interfaces"/));
  assert.throws(() => parseDocument({ interface: { name: 'vpn0', mt: 1 } }), invalid(/interface has an unknown field "mt"/));
  assert.throws(() => parseDocument({ routes: [{ address: '10.0.0.0', prefix: '8' }] }), invalid(/routes\[0\]\.prefix must be a number/));
  assert.throws(() => parseDocument({ dns: { servers: 'x' } }), invalid(/dns\.servers must be a list/));
  assert.throws(() => parseDocument([]), invalid(/must be an object/));
  assert.throws(() => parseProfile({ alwaysOn: 'yes' }), invalid(/alwaysOn must be a boolean/));
  assert.deepEqual(parseDocument({ interface: null, firewall: null }), { interface: null, firewall: null });
});

test('profiles: lockdown needs alwaysOn, a block and an interface', () => {
  const doc = { interface: { name: 'vpn0' }, firewall: { allowVpn: [], allowOriginal: [] } };
  assert.throws(() => checkProfile({ ...doc, lockdown: true }), invalid(/only an alwaysOn profile/));
  assert.throws(() => checkProfile({ interface: doc.interface, alwaysOn: true, lockdown: true }), invalid(/needs a firewall part/));
  assert.throws(() => checkProfile({ firewall: doc.firewall, alwaysOn: true, lockdown: true }), invalid(/needs an interface part/));
  checkProfile({ ...doc, alwaysOn: true, lockdown: true });
});

test('defaults fill an interface; a part left out stays as it is', () => {
  const desired = desiredState({ interface: { name: 'vpn1' } }, NOTHING, host());
  assert.deepEqual(desired.interface, {
    name: 'vpn1',
    localIp: null,
    remoteIp: null,
    localIp6: null,
    mtu: 1500,
    session: 'VPN_Session',
    blocking: true,
  });
  const kept = desiredState({ routes: [{ address: '10.2.0.0', prefix: 16 }] }, UP, host());
  assert.deepEqual(kept.dns, UP.dns);
  assert.deepEqual(kept.firewall, UP.firewall);
  assert.deepEqual(plan(UP, desiredState(toDocument(UP), UP, host())), [], 'the state as a document plans nothing');
});

test('the order never opens a leak: a block first, routes added before removed, a lifted block last', () => {
  const ops = (from: VpnState, to: VpnState) => plan(from, to).map((s) => s.op);
  assert.deepEqual(ops(NOTHING, UP), ['firewall.block', 'interface.create', 'routes.add', 'dns.set']);
  assert.deepEqual(ops(UP, { ...UP, routes: [{ address: '10.3.0.0', prefix: 16 }], firewall: null }), [
    'routes.add',
    'routes.remove',
    'firewall.unblock',
  ]);
  const moved = { ...UP, interface: { ...UP.interface!, name: 'vpn1' }, firewall: { ...BLOCK, vpnInterface: 'vpn1' } };
  assert.deepEqual(ops(UP, moved), [
    'firewall.block',
    'routes.clear',
    'dns.clear',
    'interface.remove',
    'interface.create',
    'routes.add',
    'dns.set',
  ]);
  assert.deepEqual(ops(UP, NOTHING), ['routes.clear', 'dns.clear', 'interface.remove', 'firewall.unblock']);
  const readdressed = { ...UP, interface: { ...UP.interface!, localIp: '10.0.0.5' } };
  assert.deepEqual(ops(UP, readdressed).slice(0, 4), ['routes.clear', 'dns.clear', 'interface.remove', 'interface.create']);
});

test('conflicts are refused before anything, naming the part', () => {
  assert.throws(() => desiredState({ interface: { name: 'eth0' } }, NOTHING, host(['eth0'])), invalid(/interface\.name: "eth0" is taken/));
  assert.doesNotThrow(() => desiredState({ interface: { name: 'vpn0' } }, UP, host(['vpn0'])), 'its own interface is not a conflict');
  assert.throws(
    () =>
      desiredState(
        {
          routes: [
            { address: '10.1.0.0', prefix: 16 },
            { address: '10.1.0.0', prefix: 16 },
          ],
        },
        UP,
        host(),
      ),
    invalid(/routes\[1\]: 10\.1\.0\.0\/16 repeats routes\[0\]/),
  );
  assert.throws(() => desiredState({ dns: { domains: ['a.example', 'a.example'] } }, UP, host()), invalid(/dns\.domains\[1\]/));
  assert.throws(() => desiredState({ firewall: BLOCK }, NOTHING, host()), invalid(/firewall: needs the VPN interface/));
  assert.throws(() => desiredState({ interface: null, routes: UP.routes }, UP, host()), invalid(/routes: need a VPN interface/));
});

test('allowLan is part of the block: read from the document, planned as a change, written back', () => {
  assert.throws(
    () => parseDocument({ firewall: { allowVpn: [], allowOriginal: [], allowLan: 'yes' } }),
    invalid(/firewall\.allowLan must be/),
  );
  const lan = desiredState({ firewall: { allowVpn: BLOCK.allowVpn, allowOriginal: [], allowLan: true } }, UP, host());
  assert.equal(lan.firewall?.allowLan, true);
  const steps = plan(UP, lan);
  assert.deepEqual(
    steps.map((s) => s.op),
    ['firewall.block'],
  );
  assert.deepEqual(steps[0]!.changes, [{ what: 'firewall allowLan', from: 'false', to: 'true' }]);
  assert.equal(toDocument(lan).firewall?.allowLan, true);
  assert.deepEqual(plan(lan, desiredState({ firewall: { allowVpn: BLOCK.allowVpn, allowOriginal: [], allowLan: true } }, lan, host())), []);
  assert.equal(
    desiredState({ firewall: { allowVpn: BLOCK.allowVpn, allowOriginal: [] } }, lan, host()).firewall?.allowLan,
    false,
    'left out: false',
  );
});
