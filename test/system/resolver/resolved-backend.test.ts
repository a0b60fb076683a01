/**
 * The systemd-resolved backend against a fake resolvectl that keeps per-link state: per-link
 * DNS and domains read back after every change, and a resolvectl that exits 0 without effect
 * turned into an error.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { DnsSettings, resolverCall } from '../../../src/engine/dns.js';
import { VpnsvcError } from '../../../src/errors/errors.js';
import { LinkRecordStore } from '../../../src/system/resolver/link-record.js';
import { parseLinkValues, ResolvedBackend, serverAddress } from '../../../src/system/resolver/resolved-backend.js';
import { type Effect, fakeResolvers } from '../../helpers/fake-resolvers.js';

function setup(t: TestContext, effect: Effect = 'full') {
  const fake = fakeResolvers(t, { effect });
  const state = join(fake.dir, 'state');
  const backend = new ResolvedBackend(new LinkRecordStore(state), undefined, join(fake.dir, 'resolvectl'));
  return { fake, state, backend };
}

test('what resolvectl prints for a link', () => {
  assert.deepEqual(parseLinkValues('Link 7 (vt0): 10.0.0.1 fd00::53\n'), ['10.0.0.1', 'fd00::53']);
  assert.deepEqual(parseLinkValues('Link 7 (vt0):\n'), []);
  assert.deepEqual(parseLinkValues('Link 12 (vt0): a.example b.example\n              ~.\n'), ['a.example', 'b.example', '~.'], 'wrapped');
  assert.equal(parseLinkValues('Failed to resolve interface "vt0"\n'), undefined);
  for (const [printed, address] of [
    ['10.0.0.1', '10.0.0.1'],
    ['10.0.0.1:53', '10.0.0.1'],
    ['[fd00::53]:853#dns.example', 'fd00::53'],
    ['fe80::1%3', 'fe80::1'],
    ['fd00::53', 'fd00::53'],
  ]) {
    assert.equal(serverAddress(printed!), address, printed);
  }
});

describe('resolved backend', () => {
  test('per-link dns and domains, each read back; revert on clear and after a crash', async (t) => {
    const { fake, state, backend } = setup(t);
    await backend.apply('vt0', { servers: ['10.0.0.1', 'fd00::53'], domains: ['~.', 'corp.example'] });
    assert.equal(backend.leakProtection({ servers: ['10.0.0.1'], domains: ['~.'] }), 'routing-domain');
    await backend.apply('vt0', { servers: ['10.0.0.1'], domains: [] });
    assert.equal(backend.leakProtection({ servers: ['10.0.0.1'], domains: [] }), 'none', 'without ~. the LAN gets queries too');
    // a new daemon after a crash
    await new ResolvedBackend(new LinkRecordStore(state), undefined, join(fake.dir, 'resolvectl')).recover();
    await backend.clear(); // nothing left to do
    assert.deepEqual(fake.calls(), [
      'resolvectl dns vt0 10.0.0.1 fd00::53 <>',
      'resolvectl domain vt0 ~. corp.example <>',
      'resolvectl dns vt0 <>',
      'resolvectl domain vt0 <>',
      'resolvectl dns vt0 10.0.0.1 <>',
      'resolvectl domain vt0  <>',
      'resolvectl dns vt0 <>',
      'resolvectl domain vt0 <>',
      'resolvectl revert vt0 <>',
      'resolvectl dns vt0 <>',
      'resolvectl domain vt0 <>',
    ]);
  });

  test('resolvectl exits 0 but resolved keeps nothing: IO_ERROR naming the backend and what it reports; settings unchanged', async (t) => {
    const { backend } = setup(t, 'nothing');
    await assert.rejects(
      backend.apply('vt0', { servers: ['10.0.0.1'], domains: ['~.'] }),
      /^Error: resolvectl dns vt0 reports the servers none, not 10\.0\.0\.1$/,
    );
    const dns = new DnsSettings(backend);
    await assert.rejects(
      resolverCall(backend, () => dns.addServer('vt0', '10.0.0.1')),
      (err: unknown) => {
        assert.ok(err instanceof VpnsvcError);
        assert.equal(err.kind, 'VPNSVC_ERROR_IO_ERROR');
        assert.equal(err.message, 'DNS backend "resolved": resolvectl dns vt0 reports the servers none, not 10.0.0.1');
        return true;
      },
    );
    assert.deepEqual(dns.config(), { servers: [], domains: [] });
  });

  test('servers that took but domains that did not: the error names the domains', async (t) => {
    const { fake, backend } = setup(t);
    await backend.apply('vt0', { servers: ['10.0.0.1'], domains: [] });
    fake.setEffect('nothing');
    await assert.rejects(
      backend.apply('vt0', { servers: ['10.0.0.1'], domains: ['~.'] }),
      /resolvectl domain vt0 reports the domains none, not ~\./,
    );
  });

  test('a revert that does not take fails clear and keeps the link record for the next start', async (t) => {
    const { fake, state, backend } = setup(t);
    await backend.apply('vt0', { servers: ['10.0.0.1'], domains: [] });
    fake.setEffect('nothing');
    await assert.rejects(backend.clear(), /resolvectl dns vt0 reports the servers 10\.0\.0\.1, not none/);
    assert.deepEqual(new LinkRecordStore(state).read(), { backend: 'resolved', name: 'vt0' });
    fake.setEffect('full');
    await backend.recover();
    assert.equal(new LinkRecordStore(state).read(), undefined);
  });
});
