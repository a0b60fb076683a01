/**
 * The whole VPN as one document, through the facade on the real kernel of the test namespace
 * (TUN, addresses, routes), the resolvconf backend over the fake resolvconf and nft on a private
 * namespace (test/helpers/config-house.ts). Every outcome is read back from the kernel, not from
 * the facade: a dry run changes nothing, apply then GET round-trips, a failure injected at each
 * kind of step leaves the host exactly as it was, confirm keeps and a missed deadline reverts,
 * and a property over random pairs of documents: A then B is B, and a failed B leaves A.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import type { ConfigDocument } from '../../src/contract/api-types.js';
import { type ErrorName, VpnsvcError } from '../../src/errors/errors.js';
import { type ConfigHouse, configHouse } from '../helpers/config-house.js';
import { ip, kernelTestOptions, link } from '../helpers/kernel.js';

/** Another program's device, holding a main-table route the documents below ask for too. */
const HOLDER = 'vcxhold0';
const HELD_ROUTE = { address: '10.190.99.0', prefix: 24 };

const EMPTY: ConfigDocument = { interface: null, routes: [], dns: { servers: [], domains: [] }, firewall: null };

const OFFICE: ConfigDocument = {
  interface: { name: 'vcf0', localIp: '10.190.0.1', remoteIp: '10.190.0.2', localIp6: null, mtu: 1400, session: 'office', blocking: false },
  routes: [
    { address: '10.190.10.0', prefix: 24 },
    { address: 'fd00:190::', prefix: 64 },
  ],
  dns: { servers: ['10.190.0.53'], domains: ['corp.example'] },
  firewall: {
    allowVpn: [{ address: '10.190.0.0', prefix: 16 }],
    allowOriginal: [{ address: '192.0.2.0', prefix: 24 }],
    originalInterface: 'lo',
    allowLan: false,
  },
};

function isError(kind: ErrorName, message: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof VpnsvcError, `a VpnsvcError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.match(err.message, message);
    return true;
  };
}

/** The document with its lists in a fixed order, for comparing what GET answers with what was put. */
function sorted(doc: ConfigDocument): ConfigDocument {
  const byText = (a: { address: string; prefix: number }, b: { address: string; prefix: number }) =>
    `${a.address}/${a.prefix}`.localeCompare(`${b.address}/${b.prefix}`);
  return {
    ...doc,
    ...(doc.routes && { routes: [...doc.routes].sort(byText) }),
    ...(doc.firewall && {
      firewall: {
        ...doc.firewall,
        allowVpn: [...doc.firewall.allowVpn].sort(byText),
        allowOriginal: [...doc.firewall.allowOriginal].sort(byText),
      },
    }),
  };
}

describe('configuration documents on the kernel', kernelTestOptions(), () => {
  before(() => {
    ip('link', 'add', HOLDER, 'type', 'veth', 'peer', 'name', 'vcxhold1');
    ip('link', 'set', HOLDER, 'up');
    ip('link', 'set', 'vcxhold1', 'up');
    ip('route', 'add', `${HELD_ROUTE.address}/${HELD_ROUTE.prefix}`, 'dev', HOLDER);
  });
  after(() => {
    if (link(HOLDER)) ip('link', 'delete', HOLDER);
  });

  test('a dry run answers the plan and touches nothing', async (t) => {
    const h = await configHouse(t, 'cfdry');
    const before = await h.kernel();
    const result = await h.vpnsvc.putConfig(OFFICE, { dryRun: true });
    assert.equal(result.dryRun, true);
    assert.equal(result.applied, false);
    assert.deepEqual(
      result.steps.map((s) => s.op),
      ['firewall.block', 'interface.create', 'routes.add', 'dns.set'],
    );
    assert.deepEqual(result.steps[2]?.changes, [
      { what: 'route 10.190.10.0/24', from: null, to: '10.190.10.0/24' },
      { what: 'route fd00:190::/64', from: null, to: 'fd00:190::/64' },
    ]);
    assert.deepEqual(await h.kernel(), before);
    assert.deepEqual(
      h.nft.calls().filter((c) => c.includes('-f')),
      [],
    );
    assert.deepEqual(h.resolvers.changes(), []);
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['config.planned'],
    );
  });

  test('apply, then GET answers the same document read back from the kernel; PUT of it again plans nothing', async (t) => {
    const h = await configHouse(t, 'cfrt');
    const result = await h.vpnsvc.putConfig(OFFICE);
    assert.equal(result.applied, true);
    assert.deepEqual(sorted(result.config), sorted(OFFICE));
    assert.deepEqual(sorted(await h.vpnsvc.getConfig()), sorted(OFFICE));
    const k = await h.kernel();
    assert.deepEqual(k.links, [
      { name: 'vcf0', mtu: 1400, up: true, addresses: ['10.190.0.1 peer 10.190.0.2'], routes: ['10.190.10.0/24', 'fd00:190::/64'] },
    ]);
    assert.equal(k.nameservers[0], 'nameserver 10.190.0.53');
    assert.deepEqual(k.firewall, {
      blocked: true,
      vpnInterface: 'vcf0',
      originalInterface: 'lo',
      allowVpn: [{ address: '10.190.0.0', prefix: 16 }],
      allowOriginal: [{ address: '192.0.2.0', prefix: 24 }],
      allowLan: false,
    });
    // The order: block first, then the interface, routes, DNS.
    const types = h.events.map((e) => e.type);
    assert.ok(types.indexOf('firewall.blocked') < types.indexOf('interface.created'));
    assert.ok(types.indexOf('interface.created') < types.indexOf('route.added'));
    assert.equal(types.at(-1), 'config.applied');

    const again = await h.vpnsvc.putConfig(await h.vpnsvc.getConfig());
    assert.deepEqual(again.steps, []);
    assert.equal(again.applied, false);
    assert.deepEqual(await h.kernel(), k);
  });

  test('a part left out is not managed; a change of MTU and session is made in place', async (t) => {
    const h = await configHouse(t, 'cfpart');
    await h.vpnsvc.putConfig(OFFICE);
    const { index } = h.vpnsvc.describe('vcf0');
    const result = await h.vpnsvc.putConfig({ interface: { ...OFFICE.interface!, mtu: 1300, session: 'office 2' } });
    assert.deepEqual(
      result.steps.map((s) => s.op),
      ['interface.settings'],
    );
    assert.deepEqual(result.steps[0]?.changes, [
      { what: 'interface vcf0 mtu', from: '1400', to: '1300' },
      { what: 'interface vcf0 session', from: 'office', to: 'office 2' },
    ]);
    assert.equal(h.vpnsvc.describe('vcf0').index, index, 'the same TUN');
    assert.equal(link('vcf0')?.mtu, 1300);
    assert.deepEqual(sorted(await h.vpnsvc.getConfig()).routes, sorted(OFFICE).routes);
  });

  test('bad input is refused before anything is touched, naming the part', async (t) => {
    const h = await configHouse(t, 'cfbad');
    await h.vpnsvc.putConfig(OFFICE);
    const before = await h.kernel();
    const nftChanges = () => h.nft.calls().filter((c) => c.includes('-f')).length;
    const changes = nftChanges();
    h.events.length = 0;
    const refusals: Array<[ConfigDocument, RegExp]> = [
      [{ routes: [OFFICE.routes![0]!, { address: '10.190.10.0', prefix: 24 }] }, /routes\[1\]: 10\.190\.10\.0\/24 repeats routes\[0\]/],
      [
        { interface: { name: HOLDER, localIp: '10.190.5.1', remoteIp: '10.190.5.2' } },
        /interface\.name: "vcxhold0" is taken by another device/,
      ],
      [{ interface: { name: 'vcf1' }, routes: [HELD_ROUTE] }, /routes: need interface "vcf1" up/],
      [{ interface: { name: 'vcf0', localIp: '10.190.0.1' } }, /give both localIp and remoteIp/],
      [{ dns: { servers: ['10.190.0.53', '10.190.0.053'] } }, /dns\.servers\[1\]/],
      [{ firewall: { allowVpn: [{ address: '10.190.0.0', prefix: 33 }], allowOriginal: [] } }, /firewall: allowVpn\[0\]/],
      [{ interface: { name: 'vcf0', localIp: '10.190.0.1', remoteIp: '224.0.0.1' } }, /interface\.remoteIp/],
    ];
    for (const [doc, message] of refusals) {
      await assert.rejects(h.vpnsvc.putConfig(doc), isError('VPNSVC_ERROR_INVALID_PARAMETER', message));
    }
    assert.deepEqual(await h.kernel(), before);
    assert.equal(nftChanges(), changes);
    assert.deepEqual(h.events, [], 'refused before the plan: not even config.planned');
  });

  describe('a failure at any step undoes every step done', () => {
    const cases: Array<{
      name: string;
      from: ConfigDocument;
      to: ConfigDocument;
      inject: (h: ConfigHouse) => void;
      step: string;
      message: RegExp;
    }> = [
      {
        name: 'the block (first step): nft refuses',
        from: EMPTY,
        to: OFFICE,
        inject: (h) => h.failNft(true),
        step: 'firewall.block',
        message: /nft refused to set the block/,
      },
      {
        name: 'the routes: the kernel refuses one (the main table holds it through another device)',
        from: { ...OFFICE, interface: { ...OFFICE.interface!, name: 'vcf1' } },
        to: {
          ...OFFICE,
          routes: [...OFFICE.routes!, { address: '10.190.11.0', prefix: 24 }, HELD_ROUTE],
          dns: { servers: ['10.190.1.53'] },
        },
        inject: () => undefined,
        step: 'routes.add',
        message: /10\.190\.99\.0\/24: the main table already has a route/,
      },
      {
        name: 'DNS: the resolver backend does not take the change',
        from: OFFICE,
        to: { ...OFFICE, routes: [{ address: '10.190.12.0', prefix: 24 }], dns: { servers: ['10.190.2.53', '10.190.3.53'] } },
        inject: (h) => h.resolvers.setEffect('nothing'),
        step: 'dns.set',
        message: /resolvconf/,
      },
      {
        name: 'lifting the block (last step): nft refuses',
        from: OFFICE,
        to: {
          interface: { name: 'vcf2', localIp: '10.190.2.1', remoteIp: '10.190.2.2' },
          routes: [{ address: '10.190.20.0', prefix: 24 }],
          dns: { servers: ['10.190.2.53'] },
          firewall: null,
        },
        inject: (h) => h.failNft(true),
        step: 'firewall.unblock',
        message: /nft refused to lift the block/,
      },
    ];
    for (const c of cases) {
      test(c.name, async (t) => {
        const h = await configHouse(t, `cff${cases.indexOf(c)}`);
        await h.vpnsvc.putConfig(c.from);
        const before = await h.kernel();
        const doc = await h.vpnsvc.getConfig();
        h.events.length = 0;
        c.inject(h);
        await assert.rejects(h.vpnsvc.putConfig(c.to), (err: unknown) => {
          assert.ok(err instanceof VpnsvcError);
          assert.match(err.message, new RegExp(`^${c.step.replace('.', '\\.')}: `));
          assert.match(err.message, c.message);
          assert.match(err.message, /every step done before it was undone/);
          return true;
        });
        h.failNft(false);
        h.resolvers.setEffect('full');
        assert.deepEqual(await h.kernel(), before, 'the kernel as it was');
        assert.deepEqual(sorted(await h.vpnsvc.getConfig()), sorted(doc));
        const failed = h.events.find((e) => e.type === 'config.failed');
        assert.equal((failed?.data as { step: string } | undefined)?.step, c.step);
        const rolledBack = h.events.find((e) => e.type === 'config.rolledBack')?.data as { undone: string[]; failures: string[] };
        assert.deepEqual(rolledBack.failures, []);
        assert.ok(c.step === 'firewall.block' || rolledBack.undone.length > 0, 'steps were undone');
        assert.ok(!h.events.some((e) => e.type === 'config.applied'));
      });
    }
  });

  test('confirm keeps the change; without it, it reverts at the deadline with its reason', async (t) => {
    const h = await configHouse(t, 'cfconf');
    await h.vpnsvc.putConfig({ interface: { name: 'vcf0', localIp: '10.190.0.1', remoteIp: '10.190.0.2' } });
    const base = await h.kernel();
    const applied = await h.vpnsvc.putConfig(OFFICE, { confirmWithinS: 1 });
    assert.equal(applied.confirm?.withinS, 1);
    await assert.rejects(h.vpnsvc.putConfig(EMPTY), isError('VPNSVC_ERROR_INVALID_PARAMETER', /awaits confirmation until/));
    h.vpnsvc.confirmConfig();
    await sleep(1300);
    assert.deepEqual(sorted(await h.vpnsvc.getConfig()), sorted(OFFICE), 'confirmed: it stays');
    assert.throws(() => h.vpnsvc.confirmConfig(), isError('VPNSVC_ERROR_NO_SUCH_FILE', /no change awaits confirmation/));

    await h.vpnsvc.putConfig({
      interface: { name: 'vcf0', localIp: '10.190.0.1', remoteIp: '10.190.0.2' },
      routes: [],
      dns: {},
      firewall: null,
    });
    assert.deepEqual(await h.kernel(), base);
    h.events.length = 0;
    await h.vpnsvc.putConfig(OFFICE, { confirmWithinS: 1 });
    assert.notDeepEqual(await h.kernel(), base);
    const deadline = Date.now() + 5000;
    while (!h.events.some((e) => e.type === 'config.reverted') && Date.now() < deadline) await sleep(50);
    const reverted = h.events.find((e) => e.type === 'config.reverted');
    assert.deepEqual(reverted?.data, { withinS: 1 });
    assert.deepEqual(reverted?.reason, { source: 'daemon', detail: 'not confirmed within 1 s' });
    assert.deepEqual(await h.kernel(), base, 'reverted, read back from the kernel');
    assert.throws(() => h.vpnsvc.confirmConfig(), isError('VPNSVC_ERROR_NO_SUCH_FILE', /no change awaits/));
  });

  test('a clean shutdown reverts a change that awaits confirmation', async (t) => {
    const h = await configHouse(t, 'cfstop');
    await h.vpnsvc.putConfig(OFFICE, { confirmWithinS: 600 });
    const applied = await h.kernel();
    assert.equal(applied.links.length, 1);
    assert.equal((applied.firewall as { blocked: boolean }).blocked, true);
    await h.vpnsvc.close();
    const k = await h.kernel();
    assert.deepEqual(k.links, []);
    assert.equal((k.firewall as { blocked: boolean }).blocked, false, 'the unconfirmed block did not outlive the daemon');
    assert.deepEqual(
      h.events.filter((e) => e.type === 'config.reverted').map((e) => e.reason.detail),
      ['the service stopped before the change was confirmed'],
    );
  });

  test('other changing calls wait for the transaction', async (t) => {
    const h = await configHouse(t, 'cfser');
    // Queued behind the document, the classic call finds the interface it creates, up.
    const put = h.vpnsvc.putConfig({ interface: OFFICE.interface!, routes: [] });
    const added = h.vpnsvc.addRoute({ address: '10.190.30.0', prefix: 24 });
    await put;
    assert.deepEqual(await added, { address: '10.190.30.0', prefix: 24 });
    assert.deepEqual((await h.vpnsvc.getConfig()).routes, [{ address: '10.190.30.0', prefix: 24 }]);
  });

  test('property: A then B equals B, and a failed B leaves A exactly', async (t) => {
    const h = await configHouse(t, 'cfprop');
    const pool = ['10.190.40.0/24', '10.190.41.0/24', '10.190.42.0/23', 'fd00:190:1::/64', 'fd00:190:2::/48'].map((r) => {
      const [address, prefix] = r.split('/') as [string, string];
      return { address, prefix: Number(prefix) };
    });
    const up = fc.constantFrom(['10.190.50.1', '10.190.50.2'] as const, ['10.190.51.1', '10.190.51.2'] as const);
    const doc: fc.Arbitrary<ConfigDocument> = fc
      .record({
        present: fc.integer({ min: 0, max: 4 }).map((n) => n > 0),
        name: fc.constantFrom('vcf0', 'vcf1'),
        addresses: fc.option(up, { nil: undefined }),
        mtu: fc.constantFrom(1280, 1400, 1500),
        session: fc.constantFrom('VPN_Session', 'office'),
        blocking: fc.boolean(),
        routes: fc.subarray(pool),
        servers: fc.subarray(['10.190.60.53', '10.190.61.53', 'fd00:190::53']),
        domains: fc.subarray(['corp.example', '~.']),
        firewall: fc.option(
          fc.record({ allowVpn: fc.subarray(pool), allowOriginal: fc.subarray([{ address: '192.0.2.0', prefix: 24 }]) }),
          {
            nil: undefined,
          },
        ),
      })
      .map((g): ConfigDocument => {
        if (!g.present) return { ...EMPTY };
        const isUp = g.addresses !== undefined;
        return {
          interface: {
            name: g.name,
            ...(g.addresses && { localIp: g.addresses[0], remoteIp: g.addresses[1] }),
            mtu: g.mtu,
            session: g.session,
            blocking: g.blocking,
          },
          routes: isUp ? g.routes : [],
          dns: isUp ? { servers: g.servers, domains: g.servers.length > 0 ? g.domains : [] } : { servers: [], domains: [] },
          firewall: g.firewall ? { ...g.firewall, originalInterface: 'lo' } : null,
        };
      });
    let failedB = 0;
    const view = async () => ({ kernel: await h.kernel(), config: sorted(await h.vpnsvc.getConfig()) });
    await fc.assert(
      fc.asyncProperty(doc, doc, fc.nat(), async (a, b, pick) => {
        await h.vpnsvc.putConfig(EMPTY);
        await h.vpnsvc.putConfig(b);
        const onlyB = await view();
        await h.vpnsvc.putConfig(EMPTY);
        await h.vpnsvc.putConfig(a);
        const onlyA = await view();
        await h.vpnsvc.putConfig(b);
        assert.deepEqual(await view(), onlyB, 'A then B is B');

        await h.vpnsvc.putConfig(a);
        assert.deepEqual(await view(), onlyA);
        // A failure B's plan certainly meets: a held route added to B, nft refusing B's block
        // change, the resolver refusing B's DNS change.
        const ops = (await h.vpnsvc.putConfig(b, { dryRun: true })).steps.map((s) => s.op);
        const injections = [
          ...(b.interface?.localIp ? ['route' as const] : []),
          ...(ops.some((op) => op.startsWith('firewall.')) ? ['nft' as const] : []),
          ...(ops.some((op) => op.startsWith('dns.')) ? ['dns' as const] : []),
        ];
        const injection = injections[pick % Math.max(1, injections.length)];
        if (injection === undefined) return;
        let failing = b;
        if (injection === 'route') failing = { ...b, routes: [...(b.routes ?? []), HELD_ROUTE] };
        else if (injection === 'nft') h.failNft(true);
        else h.resolvers.setEffect('nothing');
        try {
          await assert.rejects(h.vpnsvc.putConfig(failing));
        } finally {
          h.failNft(false);
          h.resolvers.setEffect('full');
        }
        assert.deepEqual(await view(), onlyA, `a failed B (${injection}) leaves A`);
        failedB += 1;
      }),
      { numRuns: 15, seed: 15, endOnFailure: true },
    );
    assert.ok(failedB >= 7, `only ${failedB} of 15 runs made B fail`);
  });
});
