/**
 * What the kill switch covers besides the host's own traffic, against the real daemon and the
 * real kernel, every verdict a real datagram or connection:
 *   client  — runs the daemon; vc0 (the original interface, its LAN 10.99.0.0/24 fd99::/64) and
 *             vf0 towards "behind", forwarding on (a host with containers or a hotspot);
 *   remote  — the LAN (10.99.0.2, fd99::2, also a LAN resolver on port 53) and the networks
 *             beyond it, inside and outside allowOriginal;
 *   behind  — a third namespace routed through the client (10.98.0.2, fd98::2).
 * The VPN's DNS servers (198.51.100.53, 2001:db8:a::53) sit inside allowOriginal on the remote so
 * that a datagram can be answered: it shows the DNS rule lets them through and drops port 53 to
 * every other address, even one allowOriginal or allowLan would allow.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertContract } from '../helpers/contract.js';
import { type Daemon, waitReady } from '../helpers/daemon.js';
import {
  ADDR,
  ALLOW_ORIGINAL,
  ALLOW_VPN,
  createFirewallNet,
  type FirewallNet,
  run,
  SCRIPTS,
  spawnDaemonIn,
  VETH,
} from '../helpers/firewall-net.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const TUN = 'vskctun0';
const BLOCK = { allowVpn: ALLOW_VPN, allowOriginal: ALLOW_ORIGINAL };
const VPN_DNS4 = '198.51.100.53';
const VPN_DNS6 = '2001:db8:a::53';
const BEHIND4 = '10.98.0.2';
const BEHIND6 = 'fd98::2';
const ECHO = 7003;
const DNS = 53;

/** Remote: a UDP echo on ports 53 and 7003 per address (replies leave from it), a TCP "ok" on 53. */
const SERVER = `
const dgram = require('node:dgram'); const net = require('node:net');
let pending = 0;
const ready = () => { if (--pending === 0) process.stdout.write('ready\\n'); };
pending++; net.createServer((s) => { s.on('error', () => {}); s.end('ok'); }).listen({ port: ${DNS}, host: '::', ipv6Only: false }, ready);
for (const addr of process.argv.slice(1)) for (const port of [${DNS}, ${ECHO}]) {
  const u = dgram.createSocket(net.isIPv6(addr) ? 'udp6' : 'udp4');
  u.on('message', (m, r) => u.send(m, r.port, r.address));
  pending++; u.bind(port, addr, ready);
}`;

/** argv "udp/addr/port" or "tcp/addr/port"; prints {spec: reached}. */
const PROBE = `
const dgram = require('node:dgram'); const net = require('node:net');
const T = 700;
const udp = (a, p) => new Promise((res) => {
  const s = dgram.createSocket(net.isIPv6(a) ? 'udp6' : 'udp4');
  const done = (v) => { clearTimeout(t); s.close(); res(v); };
  const t = setTimeout(() => done(false), T);
  s.on('message', (m) => done(m.toString() === 'ping'));
  s.on('error', () => done(false));
  s.send('ping', p, a);
});
const tcp = (a, p) => new Promise((res) => {
  const s = net.connect({ host: a, port: p, timeout: T });
  let got = '';
  s.on('data', (d) => (got += d));
  s.on('end', () => { s.destroy(); res(got === 'ok'); });
  s.on('timeout', () => { s.destroy(); res(false); });
  s.on('error', () => res(false));
});
Promise.all(process.argv.slice(1).map(async (spec) => {
  const [proto, a, p] = spec.split('/');
  return [spec, await (proto === 'tcp' ? tcp : udp)(a, Number(p))];
})).then((r) => process.stdout.write(JSON.stringify(Object.fromEntries(r)) + '\\n'));`;

const echo = (...addrs: string[]) => addrs.map((a) => `udp/${a}/${ECHO}`);
const dns = (...addrs: string[]) => addrs.flatMap((a) => [`udp/${a}/${DNS}`, `tcp/${a}/${DNS}`]);

const INTERNET_OK = echo(ADDR.allowed4, ADDR.allowed6);
const INTERNET_BLOCKED = echo(ADDR.blocked4, ADDR.blocked6);
const LAN = echo(ADDR.peer4, ADDR.peer6);
const VPN_DNS = dns(VPN_DNS4, VPN_DNS6);
/** Port 53 on a LAN resolver and on addresses allowOriginal allows. */
const OTHER_DNS = dns(ADDR.peer4, ADDR.peer6, ADDR.allowed4, ADDR.allowed6);
const ALL = [...INTERNET_OK, ...INTERNET_BLOCKED, ...LAN, ...VPN_DNS, ...OTHER_DNS];
const VPN_ADDRS = [ADDR.vpnAllowed4, ADDR.vpnBlocked4, ADDR.vpnAllowed6, ADDR.vpnBlocked6];

function assertVerdicts(res: Record<string, boolean>, pass: string[], drop: string[]): void {
  const wrong = [
    ...pass.filter((k) => res[k] !== true).map((k) => `${k} dropped`),
    ...drop.filter((k) => res[k] !== false).map((k) => `${k} got through`),
  ];
  assert.deepEqual(wrong, [], JSON.stringify(res));
}

async function must(argv: string[]): Promise<string> {
  const r = await run(argv);
  assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('kill switch coverage: forwarding, the LAN, DNS (namespaces)', kernelTestOptions(), () => {
  let net: FirewallNet;
  let behind: string;
  let dir: string;
  let daemon: Daemon;
  let server: ReturnType<typeof spawn> | undefined;
  let tunFd: number;

  const probeFrom = async (ns: string, specs: string[]): Promise<Record<string, boolean>> =>
    JSON.parse(await must(['ip', 'netns', 'exec', ns, process.execPath, '-e', PROBE, ...specs])) as Record<string, boolean>;
  /** The host's own traffic and the routed traffic of the namespace behind it. */
  const both = async (specs: string[]) => ({ own: await probeFrom(net.client, specs), routed: await probeFrom(behind, specs) });

  type Listed = { set?: { name: string; elem?: unknown[] }; chain?: { name: string; hook?: string; policy?: string } };
  const table = async (): Promise<Listed[] | undefined> => {
    const r = await run([...net.inClient, 'nft', '-j', 'list', 'table', 'inet', 'vpnsvc']);
    return r.code === 0 ? (JSON.parse(r.stdout) as { nftables: Listed[] }).nftables : undefined;
  };
  /** Datagrams sent from the namespace behind to `addrs`: the destinations that reached the daemon's TUN fd (routed out the VPN). */
  const routedToTun = async (addrs: string[]): Promise<Set<string>> => {
    const reader = spawn(
      net.inClient[0]!,
      [...net.inClient.slice(1), 'python3', join(SCRIPTS, 'tun-reader.py'), String(daemon.child.pid), String(tunFd), '5'],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => reader.on('exit', resolve));
    const lines = createInterface({ input: reader.stdout! })[Symbol.asyncIterator]();
    assert.equal((await lines.next()).value, 'ready');
    const seen = new Set<string>();
    const collect = (async () => {
      for await (const line of lines) seen.add(String(line).split(' ')[0] ?? '');
    })();
    await probeFrom(behind, echo(...addrs));
    await sleep(100);
    reader.stdin!.end();
    await exited;
    await collect;
    return seen;
  };
  const setOf = async (name: string): Promise<unknown[]> => (await table())?.find((o) => o.set?.name === name)?.set?.elem ?? [];

  before(async () => {
    net = await createFirewallNet('kc');
    behind = `vsfw-b-kc-${process.pid}`;
    const c = ['ip', '-n', net.client];
    const b = ['ip', '-n', behind];
    const r = ['ip', '-n', net.remote];
    await must(['ip', 'netns', 'add', behind]);
    await must(['ip', 'netns', 'exec', behind, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0']);
    await must([...b, 'link', 'set', 'lo', 'up']);
    await must([...c, 'link', 'add', 'vf0', 'type', 'veth', 'peer', 'name', 'vb0', 'netns', behind]);
    await must([...c, 'addr', 'add', '10.98.0.1/24', 'dev', 'vf0']);
    await must([...c, '-6', 'addr', 'add', 'fd98::1/64', 'dev', 'vf0', 'nodad']);
    await must([...b, 'addr', 'add', `${BEHIND4}/24`, 'dev', 'vb0']);
    await must([...b, '-6', 'addr', 'add', `${BEHIND6}/64`, 'dev', 'vb0', 'nodad']);
    await must([...c, 'link', 'set', 'vf0', 'up']);
    await must([...b, 'link', 'set', 'vb0', 'up']);
    await must([...b, 'route', 'add', 'default', 'via', '10.98.0.1']);
    await must([...b, '-6', 'route', 'add', 'default', 'via', 'fd98::1']);
    for (const k of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']) await must([...net.inClient, 'sysctl', '-qw', k]);
    // the remote answers the namespace behind the client without NAT
    await must([...r, 'route', 'add', '10.98.0.0/24', 'via', '10.99.0.1']);
    await must([...r, '-6', 'route', 'add', 'fd98::/64', 'via', 'fd99::1']);
    await must([...r, 'addr', 'add', `${VPN_DNS4}/32`, 'dev', 'lo']);
    await must([...r, '-6', 'addr', 'add', `${VPN_DNS6}/128`, 'dev', 'lo']);
    const addrs = [ADDR.peer4, ADDR.peer6, ADDR.allowed4, ADDR.allowed6, ADDR.blocked4, ADDR.blocked6, VPN_DNS4, VPN_DNS6];
    const srv = spawn(net.inRemote[0]!, [...net.inRemote.slice(1), process.execPath, '-e', SERVER, ...addrs], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    server = srv;
    const first = await createInterface({ input: srv.stdout! })[Symbol.asyncIterator]().next();
    assert.equal(first.value, 'ready');

    dir = mkdtempSync(join(tmpdir(), 'vskc-daemon-'));
    daemon = spawnDaemonIn(net, dir);
    await waitReady(daemon);
    const init = await daemon.call('POST', '/interfaces', { name: TUN });
    assert.equal(init.status, 201, JSON.stringify(init.body));
    tunFd = init.body.fd;
    assert.equal((await daemon.call('PATCH', `/interfaces/${TUN}`, { localIp: '10.200.0.1', remoteIp: '10.200.0.2' })).status, 200);
    assert.equal((await daemon.call('POST', `/interfaces/${TUN}/apply`)).status, 200);
    for (const n of ['172.16.0.0/16', '172.17.0.0/16', 'fd00:200::/64', 'fd00:201::/64']) await must([...c, 'route', 'add', n, 'dev', TUN]);
    for (const s of [VPN_DNS4, VPN_DNS6]) {
      const res = await daemon.call('POST', '/dns', { server: s });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    // neighbours resolved before probes with short timeouts
    for (const a of [ADDR.peer4, ADDR.peer6]) await must(['ip', 'netns', 'exec', behind, 'ping', '-c1', '-W2', a]);
  });

  after(async () => {
    await daemon?.stop();
    server?.kill('SIGKILL');
    if (behind) await run(['ip', 'netns', 'del', behind]);
    await net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('negative control: with no block every probe passes, own and routed, so the test can see a leak', async () => {
    const state = await daemon.call('GET', '/firewall');
    assertContract('getFirewall', state);
    assert.equal(state.body.blocked, false);
    const { own, routed } = await both(ALL);
    assertVerdicts(own, ALL, []);
    assertVerdicts(routed, ALL, []);
    const seen = await routedToTun(VPN_ADDRS);
    for (const a of VPN_ADDRS) assert.ok(seen.has(a), `${a} is routed into the TUN without a block (saw ${[...seen].join(' ')})`);
  });

  test('a block: routed traffic follows the allow lists (IPv4 and IPv6), the LAN is dropped, DNS reaches only the VPN servers', async () => {
    const res = await daemon.call('PUT', '/firewall', BLOCK);
    assertContract('blockNetworks', res);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { blocked: true, vpnInterface: TUN, originalInterface: VETH, ...BLOCK, allowLan: false });
    const chains = ((await table()) ?? []).flatMap((o) => (o.chain ? [`${o.chain.name} ${o.chain.hook} ${o.chain.policy}`] : []));
    assert.deepEqual(chains.sort(), ['forward forward drop', 'input input drop', 'output output drop']);
    assert.deepEqual(await setOf('lan_v4'), []);
    assert.deepEqual(await setOf('dns_v4'), [VPN_DNS4]);
    assert.deepEqual(await setOf('dns_v6'), [VPN_DNS6]);

    const { own, routed } = await both(ALL);
    for (const r of [own, routed]) assertVerdicts(r, [...INTERNET_OK, ...VPN_DNS], [...INTERNET_BLOCKED, ...LAN, ...OTHER_DNS]);
    const seen = await routedToTun(VPN_ADDRS);
    assert.ok(seen.has(ADDR.vpnAllowed4) && seen.has(ADDR.vpnAllowed6), `routed to allowVpn: into the TUN (saw ${[...seen].join(' ')})`);
    assert.ok(
      !seen.has(ADDR.vpnBlocked4) && !seen.has(ADDR.vpnBlocked6),
      `routed elsewhere into the VPN: dropped (saw ${[...seen].join(' ')})`,
    );
  });

  test('allowLan: the LAN passes (own and routed, IPv4 and IPv6); DNS to the LAN resolver stays dropped', async () => {
    const res = await daemon.call('PUT', '/firewall', { ...BLOCK, allowLan: true });
    assertContract('blockNetworks', res);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.allowLan, true, 'read back from the rules in the kernel');
    assert.equal((await daemon.call('GET', '/firewall')).body.allowLan, true);
    // vc0's prefixes from the kernel, link-local and multicast; not vf0's
    assert.deepEqual(await setOf('lan_v4'), [
      { prefix: { addr: '10.99.0.0', len: 24 } },
      { prefix: { addr: '169.254.0.0', len: 16 } },
      { prefix: { addr: '224.0.0.0', len: 4 } },
    ]);
    assert.deepEqual(await setOf('lan_v6'), [
      { prefix: { addr: 'fd99::', len: 64 } },
      { prefix: { addr: 'fe80::', len: 10 } },
      { prefix: { addr: 'ff00::', len: 8 } },
    ]);

    const { own, routed } = await both(ALL);
    for (const r of [own, routed]) assertVerdicts(r, [...INTERNET_OK, ...LAN, ...VPN_DNS], [...INTERNET_BLOCKED, ...OTHER_DNS]);
  });

  test('the VPN DNS servers change while blocked (by call or by document): the block follows them', async () => {
    assert.equal((await daemon.call('DELETE', `/dns/${VPN_DNS4}`)).status, 204);
    assert.deepEqual(await setOf('dns_v4'), [], 'the kernel set follows the VPN servers');
    assert.equal((await daemon.call('GET', '/firewall')).body.allowLan, true, 'the rest of the block is kept');
    const { own, routed } = await both([...VPN_DNS, ...LAN]);
    for (const r of [own, routed]) assertVerdicts(r, [...dns(VPN_DNS6), ...LAN], dns(VPN_DNS4));

    assert.equal((await daemon.call('POST', '/dns', { server: VPN_DNS4 })).status, 201);
    assert.deepEqual(await setOf('dns_v4'), [VPN_DNS4]);
    assertVerdicts(await probeFrom(behind, VPN_DNS), VPN_DNS, []);

    // a configuration document that changes the servers: the block follows as its last step
    const put = await daemon.call('PUT', '/config', { dns: { servers: [VPN_DNS4] } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(await setOf('dns_v6'), []);
    assert.deepEqual(await setOf('dns_v4'), [VPN_DNS4]);
    assertVerdicts(await probeFrom(behind, VPN_DNS), dns(VPN_DNS4), dns(VPN_DNS6));
    assert.equal((await daemon.call('PUT', '/config', { dns: { servers: [VPN_DNS4, VPN_DNS6] } })).status, 200);
    assert.deepEqual(await setOf('dns_v6'), [VPN_DNS6]);
  });

  test('unblock removes everything: the table is gone and every probe passes again', async () => {
    assert.equal((await daemon.call('DELETE', '/firewall')).status, 204);
    assert.equal(await table(), undefined);
    const tables = await must([...net.inClient, 'nft', '-j', 'list', 'tables']);
    assert.ok(!tables.includes('"vpnsvc"'), tables);
    const { own, routed } = await both(ALL);
    assertVerdicts(own, ALL, []);
    assertVerdicts(routed, ALL, []);
  });
});
