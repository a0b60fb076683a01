/**
 * The kill switch against the real daemon and the real kernel: a client namespace running the
 * daemon (veth as the original interface, the daemon's TUN as the VPN interface) and a remote
 * namespace with addresses inside and outside the allow lists. Every verdict is a real probe
 * (TCP, UDP, ICMP over IPv4 and IPv6) or a packet read from the daemon's TUN fd; every state is
 * read back with nft.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { assertContract } from '../helpers/contract.js';
import { type Daemon, waitReady } from '../helpers/daemon.js';
import {
  ADDR,
  ALLOW_ORIGINAL,
  ALLOW_VPN,
  createFirewallNet,
  type FirewallNet,
  probe,
  ruleset,
  run,
  SCRIPTS,
  spawnDaemonIn,
  specsFor,
  tables,
  tunDestinations,
  VETH,
} from '../helpers/firewall-net.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const TUN = 'vsfwtun0';
const ALLOWED = specsFor(ADDR.allowed4, ADDR.allowed6);
const BLOCKED = specsFor(ADDR.blocked4, ADDR.blocked6, ADDR.peer4, ADDR.peer6);
const VPN_ADDRS = [ADDR.vpnAllowed4, ADDR.vpnBlocked4, ADDR.vpnAllowed6, ADDR.vpnBlocked6];
const BLOCK = { allowVpn: ALLOW_VPN, allowOriginal: ALLOW_ORIGINAL };
const BLOCKED_STATE = { ...BLOCK, allowLan: false };

function assertVerdicts(res: Record<string, boolean>, pass: string[], drop: string[]): void {
  const wrong = [
    ...pass.filter((k) => res[k] !== true).map((k) => `${k} dropped`),
    ...drop.filter((k) => res[k] !== false).map((k) => `${k} got through`),
  ];
  assert.deepEqual(wrong, [], JSON.stringify(res));
}

async function serviceTables(net: FirewallNet): Promise<number> {
  return (await tables(net)).filter((t) => t.family === 'inet' && t.name === 'vpnsvc').length;
}

describe('kill switch in namespaces (leak test)', kernelTestOptions(), () => {
  let net: FirewallNet;
  let dir: string;
  let daemon: Daemon;
  let tunFd: number;

  async function startDaemon(): Promise<void> {
    daemon = spawnDaemonIn(net, dir);
    await waitReady(daemon);
  }

  async function createTun(): Promise<void> {
    const init = await daemon.call('POST', '/interfaces', { name: TUN });
    assert.equal(init.status, 201, JSON.stringify(init.body));
    tunFd = init.body.fd;
    assert.equal((await daemon.call('PATCH', `/interfaces/${TUN}`, { localIp: '10.200.0.1', remoteIp: '10.200.0.2' })).status, 200);
    assert.equal((await daemon.call('POST', `/interfaces/${TUN}/apply`)).status, 200);
    for (const [fam, n] of [
      ['-4', '172.16.0.0/16'],
      ['-4', '172.17.0.0/16'],
      ['-6', 'fd00:200::/64'],
      ['-6', 'fd00:201::/64'],
    ]) {
      const r = await run(['ip', '-n', net.client, fam!, 'route', 'add', n!, 'dev', TUN]);
      assert.equal(r.code, 0, r.stderr);
    }
  }

  before(async () => {
    net = await createFirewallNet('ks');
    dir = mkdtempSync(join(tmpdir(), 'vsfw-daemon-'));
    await startDaemon();
    await createTun();
  });

  after(async () => {
    await daemon?.stop();
    await net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('negative control: with no block every probe gets through, so the test can see a leak', async () => {
    const state = await daemon.call('GET', '/firewall');
    assertContract('getFirewall', state);
    assert.deepEqual(state.body, {
      blocked: false,
      vpnInterface: null,
      originalInterface: null,
      allowVpn: [],
      allowOriginal: [],
      allowLan: false,
    });
    assertVerdicts(await probe(net, [...ALLOWED, ...BLOCKED]), [...ALLOWED, ...BLOCKED], []);
    const seen = await tunDestinations(net, daemon.child.pid!, tunFd, VPN_ADDRS);
    for (const a of VPN_ADDRS) assert.ok(seen.has(a), `${a} reaches the TUN without a block (saw ${[...seen].join(' ')})`);
  });

  test('PUT /firewall: allowed networks pass, everything else is dropped over IPv4 and IPv6', async () => {
    const res = await daemon.call('PUT', '/firewall', BLOCK);
    assertContract('blockNetworks', res);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    // the original interface came from the default route; the lists from the kernel's sets
    assert.deepEqual(res.body, { blocked: true, vpnInterface: TUN, originalInterface: VETH, ...BLOCKED_STATE });
    assert.deepEqual((await daemon.call('GET', '/firewall')).body, res.body);

    assertVerdicts(await probe(net, [...ALLOWED, ...BLOCKED]), ALLOWED, BLOCKED);
    const seen = await tunDestinations(net, daemon.child.pid!, tunFd, VPN_ADDRS);
    assert.ok(
      seen.has(ADDR.vpnAllowed4) && seen.has(ADDR.vpnAllowed6),
      `allowed VPN networks reach the TUN fd (saw ${[...seen].join(' ')})`,
    );
    assert.ok(!seen.has(ADDR.vpnBlocked4) && !seen.has(ADDR.vpnBlocked6), `other VPN destinations do not (saw ${[...seen].join(' ')})`);
    assert.equal(await serviceTables(net), 1);
  });

  test('a flow opened before the block to a network that is not allowed stops with the block', async () => {
    assert.equal((await daemon.call('DELETE', '/firewall')).status, 204);
    // another firewall on the host (docker, firewalld) keeps conntrack running: the flow is
    // tracked as established before the block comes
    const other = ['inet', 'vsfwother'];
    for (const cmd of [
      ['add', 'table', ...other],
      ['add', 'chain', ...other, 'out', '{', 'type', 'filter', 'hook', 'output', 'priority', '10', ';', 'policy', 'accept', ';', '}'],
      ['add', 'rule', ...other, 'out', 'ct', 'state', 'established', 'counter'],
    ]) {
      const r = await run([...net.inClient, 'nft', ...cmd]);
      assert.equal(r.code, 0, r.stderr);
    }
    const flows = await Promise.all(
      [ADDR.blocked4, ADDR.blocked6].map(async (addr) => {
        const child = spawn(net.inClient[0]!, [...net.inClient.slice(1), process.execPath, join(SCRIPTS, 'held-flow.mjs'), addr], {
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
        assert.equal((await lines.next()).value, 'ready', `${addr}: the flow is up before the block`);
        return { addr, child, lines };
      }),
    );
    assert.equal((await daemon.call('PUT', '/firewall', BLOCK)).status, 200);
    for (const { addr, child, lines } of flows) {
      child.stdin!.end('go\n');
      assert.equal((await lines.next()).value, 'refused', `${addr}: the established flow is cut`);
    }
    assert.equal((await run([...net.inClient, 'nft', 'delete', 'table', ...other])).code, 0);
  });

  test('blocking again replaces the lists: one table, no duplicated rules, the new lists in force', async () => {
    const rulesBefore = (JSON.parse(await ruleset(net)).nftables as object[]).filter((o) => 'rule' in o).length;
    const swapped = {
      allowVpn: ALLOW_VPN,
      allowOriginal: [
        { address: '203.0.113.0', prefix: 24 },
        { address: '2001:db8:b::', prefix: 48 },
      ],
    };
    const res = await daemon.call('PUT', '/firewall', swapped);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.allowOriginal, swapped.allowOriginal);
    assertVerdicts(
      await probe(net, [...ALLOWED, ...specsFor(ADDR.blocked4, ADDR.blocked6)]),
      specsFor(ADDR.blocked4, ADDR.blocked6),
      ALLOWED,
    );
    for (let i = 0; i < 3; i++) assert.equal((await daemon.call('PUT', '/firewall', BLOCK)).status, 200);
    const rulesAfter = (JSON.parse(await ruleset(net)).nftables as object[]).filter((o) => 'rule' in o).length;
    assert.equal(rulesAfter, rulesBefore);
    assert.equal(await serviceTables(net), 1);
    assertVerdicts(await probe(net, [...ALLOWED, ...BLOCKED]), ALLOWED, BLOCKED);
  });

  test('replacing under load: no allowed datagram is refused, no blocked one gets out', async () => {
    const targets = [ADDR.allowed4, ADDR.allowed6, ADDR.blocked4, ADDR.blocked6];
    const big = {
      ...BLOCK,
      allowOriginal: [...ALLOW_ORIGINAL, ...Array.from({ length: 253 }, (_, i) => ({ address: `100.64.${i}.0`, prefix: 24 }))],
    };
    let done = false;
    const flood = run([...net.inClient, process.execPath, join(SCRIPTS, 'flood.mjs'), '20000', ...targets]).finally(() => (done = true));
    let replaces = 0;
    while (!done) {
      assert.equal((await daemon.call('PUT', '/firewall', replaces % 2 ? BLOCK : big)).status, 200);
      replaces++;
    }
    const f = JSON.parse((await flood).stdout) as { ms: number; res: Record<string, { ok: number; eperm: number; other: number }> };
    console.log(`# ${replaces} replaces during ${f.ms} ms of flood: ${JSON.stringify(f.res)}`);
    assert.ok(replaces >= 2, 'the flood outlasted at least two replaces');
    for (const a of [ADDR.allowed4, ADDR.allowed6]) assert.deepEqual(f.res[a], { ok: 20000, eperm: 0, other: 0 }, a);
    for (const a of [ADDR.blocked4, ADDR.blocked6]) assert.equal(f.res[a]!.ok, 0, `${a}: ${JSON.stringify(f.res[a])}`);
    assert.equal((await daemon.call('PUT', '/firewall', BLOCK)).status, 200);
  });

  test('bad input: a documented 400 and the kernel ruleset unchanged', async () => {
    const before = await ruleset(net);
    const many = Array.from({ length: 256 }, (_, i) => ({ address: `10.${i >> 8}.${i & 255}.0`, prefix: 24 }));
    const cases: Array<[string, unknown, RegExp]> = [
      ['256 entries', { allowVpn: many, allowOriginal: [] }, /allowVpn/],
      ['prefix 33 for IPv4', { allowVpn: [{ address: '10.0.0.0', prefix: 33 }], allowOriginal: [] }, /prefix 33/],
      ['prefix 129', { allowVpn: [{ address: '::', prefix: 129 }], allowOriginal: [] }, /prefix/],
      ['negative prefix', { allowVpn: [], allowOriginal: [{ address: '10.0.0.0', prefix: -1 }] }, /prefix/],
      ['not an address', { allowVpn: [{ address: '10.0.0', prefix: 8 }], allowOriginal: [] }, /not an IPv4/],
      ['an octet over 255', { allowVpn: [{ address: '300.1.1.1', prefix: 8 }], allowOriginal: [] }, /not an IPv4/],
      ['nft text in an address', { allowVpn: [{ address: '10.0.0.0 } ; flush ruleset', prefix: 8 }], allowOriginal: [] }, /address/],
      ['unknown original interface', { ...BLOCK, originalInterface: 'nosuch0' }, /does not exist/],
      ['shell metacharacters in the interface', { ...BLOCK, originalInterface: 'vc0;reboot' }, /originalInterface/],
      ['an nft wildcard in the interface', { ...BLOCK, originalInterface: 'vc*' }, /originalInterface/],
      ['nft quoting in the interface', { ...BLOCK, originalInterface: 'vc0" accept' }, /originalInterface/],
      ['the VPN interface as original', { ...BLOCK, originalInterface: TUN }, /is the VPN interface/],
      ['a missing list', { allowVpn: [] }, /allowOriginal/],
      ['an unknown field', { ...BLOCK, policy: 'accept' }, /policy/],
    ];
    for (const [what, body, message] of cases) {
      const res = await daemon.call('PUT', '/firewall', body);
      assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
      assertContract('blockNetworks', res);
      assert.equal(res.body.error, 'VPNSVC_ERROR_INVALID_PARAMETER', what);
      assert.equal(res.body.code, -22);
      assert.match(res.body.message, message, what);
    }
    assert.equal(await ruleset(net), before, 'the kernel ruleset is byte for byte what it was');
  });

  test('fail-closed: SIGKILL leaves the block in force; the restarted daemon reports it and lifts it', async () => {
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    assert.equal(await serviceTables(net), 1, 'the table is kernel state: it outlives the process');
    assertVerdicts(await probe(net, [...ALLOWED, ...BLOCKED]), ALLOWED, BLOCKED);

    await startDaemon();
    const state = await daemon.call('GET', '/firewall');
    assert.equal(state.status, 200);
    // the TUN died with the killed daemon; the rules still name it, and the lists are the kernel's
    assert.deepEqual(state.body, { blocked: true, vpnInterface: TUN, originalInterface: VETH, ...BLOCKED_STATE });
    assertVerdicts(await probe(net, [...ALLOWED, ...BLOCKED]), ALLOWED, BLOCKED);

    // deinit does not lift the block either (the seed: call unblock for that)
    await createTun();
    assert.equal((await daemon.call('PUT', '/firewall', BLOCK)).status, 200);
    assert.equal((await daemon.call('DELETE', `/interfaces/${TUN}`)).status, 204);
    assert.equal((await daemon.call('GET', '/firewall')).body.blocked, true);
    assertVerdicts(await probe(net, BLOCKED), [], BLOCKED);

    // unblock works without an interface; twice is fine
    for (let i = 0; i < 2; i++) {
      const res = await daemon.call('DELETE', '/firewall');
      assert.equal(res.status, 204);
    }
    assert.equal((await daemon.call('GET', '/firewall')).body.blocked, false);
    assert.equal(await serviceTables(net), 0);
    assertVerdicts(await probe(net, [...ALLOWED, ...BLOCKED]), [...ALLOWED, ...BLOCKED], []);
  });
});
