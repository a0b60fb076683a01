/**
 * Split tunnelling under a full tunnel, proved with traffic. The daemon runs in a client namespace
 * of its own (the kill switch and the policy rules stay out of the namespace other test files
 * share) with a default route to the "LAN" namespace; `vpnsvc bridge` runs in the "remote"
 * namespace behind it, reaching the daemon's unix socket. The same address answers in the LAN and in
 * the remote namespace with its own name, so an answer says which way a connection went: "lan"
 * (bypassing the VPN) or "remote" (through the TUN). Processes run as another uid with setpriv,
 * and in a cgroup of their own with `vpnsvc exec`.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/project-root.js';
import { cgroup2Mount, SPLIT_TABLE } from '../../src/system/split-rules.js';
import { type Daemon, spawnDaemon, waitReady } from '../helpers/daemon.js';
import { ip, ipJson, kernelTestOptions } from '../helpers/kernel.js';
import { createLanRemoteNet, type LanRemoteNet, removeLanRemoteNet } from '../helpers/lan-remote-net.js';
import { startNode, stopProcess } from '../helpers/node-process.js';

const NS_CLIENT = `vsst-cli-${process.pid}`;
const NS_LAN = `vsst-lan-${process.pid}`;
const NS_REMOTE = `vsst-rem-${process.pid}`;
const C_VETH = 'vsstc0';
const LAN_VETH_C = 'vsstl0';
const LAN_VETH_R = 'vsstl1';
const R_VETH = 'vsstr0';
const TUN = 'vsst0';
const TUN_R = 'vsst1';
const TARGET4 = '198.51.100.7';
const TARGET6 = '2001:db8:7::7';
const NET: LanRemoteNet = {
  client: NS_CLIENT,
  lan: NS_LAN,
  remote: NS_REMOTE,
  veths: { client: C_VETH, lanClient: LAN_VETH_C, lanRemote: LAN_VETH_R, remote: R_VETH },
  subnet: 83,
  target4: TARGET4,
  target6: TARGET6,
};
const NOBODY = 65534;
const CGROUP = `/vpnsvc.test-split-${process.pid}`;
const run = promisify(execFile);
/**
 * A cgroup2 mount of the test's own when its mount namespace has none: `ip netns exec` mounts a
 * fresh /sys, which hides the host's. Made outside /sys, it stays visible to the processes
 * started in the client namespace after it.
 */
let ownMount: string | undefined;

const SERVER = `
const name = process.argv[2];
require('net').createServer((c) => c.end(name)).listen(7000, '::', () => console.log('serving'));
`;

/** Prints who answers at each target over TCP ("lan", "remote"), or "none". */
const WHO = `
const net = require('net');
const ask = (host) => new Promise((resolve) => {
  let got = '';
  const s = net.connect({ host, port: 7000, timeout: 3000 });
  s.on('data', (d) => { got += d; });
  s.on('end', () => resolve(got));
  s.on('timeout', () => { s.destroy(); resolve('none'); });
  s.on('error', () => resolve('none'));
});
(async () => { for (const h of process.argv.slice(1)) console.log(await ask(h)); })();
`;

/** Who answers at TARGET4 and TARGET6 for a process started with `prefix` (setpriv, vpnsvc exec). */
async function who(prefix: string[] = []): Promise<[string, string]> {
  const argv = [...IN_CLIENT, ...prefix, process.execPath, '-e', WHO, TARGET4, TARGET6];
  const { stdout } = await run(argv[0]!, argv.slice(1), { cwd: projectRoot(), timeout: 20_000 });
  const [a = '', b = ''] = stdout.trim().split('\n');
  return [a, b];
}

const IN_CLIENT = ['ip', 'netns', 'exec', NS_CLIENT];
const asNobody = ['setpriv', '--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups'];
const inCgroup = [process.execPath, '--import', 'tsx', join(projectRoot(), 'src/cli/main.ts'), 'exec', '--cgroup', CGROUP, '--'];

const ourRules = () =>
  ['-4', '-6']
    .flatMap((f) => ipJson<Array<{ protocol?: string; priority: number }>>('-n', NS_CLIENT, f, 'rule', 'show'))
    .filter((r) => r.protocol === '86');
const splitRules = () => ourRules().filter((r) => r.priority < 32600);
const nftTables = () => execFileSync('ip', [...IN_CLIENT.slice(1), 'nft', 'list', 'tables'], { encoding: 'utf8' });
const tunTxPackets = () =>
  ipJson<Array<{ stats64: { tx: { packets: number } } }>>('-n', NS_CLIENT, '-s', 'link', 'show', TUN)[0]!.stats64.tx.packets;

/** The real daemon in the client namespace, on a unix socket in `dir` (kept, so a restart has the same state). */
async function startDaemon(dir: string): Promise<Daemon> {
  const daemon = spawnDaemon({ VPNSVC_LOG_LEVEL: 'warn' }, dir, { prefix: IN_CLIENT, keepDir: true });
  await waitReady(daemon);
  return daemon;
}

/** A call that must answer `status`; the body otherwise says why. */
async function expectCall(daemon: Daemon, status: number, method: string, path: string, body?: unknown): Promise<any> {
  const r = await daemon.call(method, path, body);
  assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
  return r.body;
}

describe('split tunnelling by user and by program under a full tunnel', kernelTestOptions(), () => {
  const dir = mkdtempSync(join(tmpdir(), 'vsst-daemon-'));
  before(() => createLanRemoteNet(NET));
  after(() => {
    removeLanRemoteNet(NET);
    const mount = cgroup2Mount();
    if (mount && existsSync(`${mount}${CGROUP}`)) rmdirSync(`${mount}${CGROUP}`);
    if (ownMount) {
      execFileSync('umount', [ownMount]);
      rmdirSync(ownMount);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('exclude and include by uid and by cgroup, through the kill switch; DELETE, deinit, a stop and the start after a crash leave nothing', async (t) => {
    const script = join(tmpdir(), `vsst-server-${process.pid}.js`);
    writeFileSync(script, SERVER);
    for (const [ns, name] of [
      [NS_LAN, 'lan'],
      [NS_REMOTE, 'remote'],
    ] as const) {
      const server = await startNode(ns, [script, name], /serving/);
      t.after(() => stopProcess(server.child));
    }

    if (cgroup2Mount() === null) {
      // Without a cgroup2 mount, split by program is not supported, and says why.
      const bare = await startDaemon(mkdtempSync(join(tmpdir(), 'vsst-bare-')));
      try {
        const features = await expectCall(bare, 200, 'GET', '/features');
        assert.equal(features.splitByCgroup.status, 'NOT_SUPPORTED');
        assert.match(features.splitByCgroup.reason, /no cgroup2 mount/);
        const refused = await expectCall(bare, 501, 'PUT', '/split-tunnel', { mode: 'exclude', cgroups: [CGROUP] });
        assert.equal(refused.error, 'VPNSVC_ERROR_NOT_SUPPORTED');
      } finally {
        await bare.stop();
        rmSync(bare.dir, { recursive: true, force: true });
      }
      ownMount = mkdtempSync(join(tmpdir(), 'vsst-cgroup2-'));
      execFileSync('mount', ['-t', 'cgroup2', 'cgroup2', ownMount]);
    }
    const mount = cgroup2Mount();
    assert.ok(mount, 'a cgroup2 mount');

    let daemon = await startDaemon(dir);
    t.after(() => daemon.stop());
    const call = (status: number, method: string, path: string, body?: unknown) => expectCall(daemon, status, method, path, body);
    assert.equal((await call(200, 'GET', '/features')).splitByCgroup.cgroup2Mount, mount);
    const missing = await call(400, 'PUT', '/split-tunnel', { mode: 'exclude', cgroups: [CGROUP] });
    assert.match(missing.message, /does not exist under the cgroup2 mount/);
    mkdirSync(`${mount}${CGROUP}`);

    await call(201, 'POST', '/interfaces', { name: TUN });
    await call(200, 'PATCH', `/interfaces/${TUN}`, { localIp: '10.77.0.1', remoteIp: '10.77.0.2', localIp6: 'fd00:9::1/64' });
    await call(200, 'POST', `/interfaces/${TUN}/apply`);
    const bridge = await startNode(
      NS_REMOTE,
      [
        '--import',
        'tsx',
        join(projectRoot(), 'src/cli/main.ts'),
        'bridge',
        '--url',
        `ws+unix://${daemon.socket}:/interfaces/${TUN}/stream`,
        '--name',
        TUN_R,
        '--local',
        '10.77.0.2',
        '--peer',
        '10.77.0.1',
      ],
      /bridge: up/,
      { VPNSVC_TOKEN: daemon.token() },
    );
    t.after(() => stopProcess(bridge.child));
    ip('-n', NS_REMOTE, '-6', 'addr', 'add', 'fd00:9::2/64', 'dev', TUN_R, 'nodad');

    assert.deepEqual(await who(asNobody), ['lan', 'lan'], 'negative control: without the full tunnel everyone reaches the LAN');
    await call(201, 'POST', '/routes', [
      { address: '0.0.0.0', prefix: 0 },
      { address: '::', prefix: 0 },
    ]);
    assert.deepEqual(await who(), ['remote', 'remote'], 'root through the tunnel');
    assert.deepEqual(await who(asNobody), ['remote', 'remote'], 'and nobody too, before any split');

    // By user, exclude: nobody bypasses the VPN; root's traffic still enters the TUN.
    const put = await call(200, 'PUT', '/split-tunnel', { mode: 'exclude', uids: [String(NOBODY), '2000-2999'] });
    assert.equal(put.mode, 'exclude');
    assert.deepEqual(put.uids, ['2000-2999', String(NOBODY)], 'sorted, read back from ip rule');
    assert.deepEqual(
      put.rules.filter((r: { family: number }) => r.family === 4).map((r: { rule: string }) => r.rule),
      ['uidrange 2000-2999 lookup main', `uidrange ${NOBODY}-${NOBODY} lookup main`],
    );
    assert.equal(splitRules().length, 4, 'IPv4 and IPv6');
    assert.deepEqual(await who(asNobody), ['lan', 'lan'], 'an excluded uid reaches the LAN directly');
    const tx = tunTxPackets();
    assert.deepEqual(await who(), ['remote', 'remote'], "root's traffic enters the TUN");
    assert.ok(tunTxPackets() > tx, "the TUN carried root's packets");

    // The kill switch lets the excluded uid through on the original interface; root stays in the VPN.
    await call(200, 'PUT', '/firewall', {
      allowVpn: [
        { address: '0.0.0.0', prefix: 0 },
        { address: '::', prefix: 0 },
      ],
      allowOriginal: [],
    });
    assert.deepEqual(await who(asNobody), ['lan', 'lan'], 'under the kill switch, the excluded uid still reaches the LAN');
    assert.deepEqual(await who(), ['remote', 'remote'], 'root through the tunnel under the kill switch');

    // By user, include: only root uses the VPN; nobody goes to the LAN.
    await call(200, 'PUT', '/split-tunnel', { mode: 'include', uids: ['0'] });
    const got = await call(200, 'GET', '/split-tunnel');
    assert.equal(got.mode, 'include');
    assert.deepEqual(got.uids, ['0']);
    assert.deepEqual(await who(), ['remote', 'remote'], 'the included uid through the tunnel');
    assert.deepEqual(await who(asNobody), ['lan', 'lan'], 'every other uid by the LAN, through the kill switch');

    // By program, exclude: a process in the excluded cgroup bypasses the VPN; root outside it does not.
    const cg = await call(200, 'PUT', '/split-tunnel', { mode: 'exclude', cgroups: [CGROUP] });
    assert.deepEqual(cg.cgroups, [CGROUP], 'read back from nft');
    assert.deepEqual(splitRules(), [], 'no uid rules left from the include mode');
    assert.deepEqual(await who(inCgroup), ['lan', 'lan'], 'a process in the excluded cgroup reaches the LAN, through the kill switch');
    assert.deepEqual(await who(), ['remote', 'remote'], 'root outside it through the tunnel');
    await call(204, 'DELETE', '/firewall');

    // By program, include: only the cgroup's processes use the VPN.
    await call(200, 'PUT', '/split-tunnel', { mode: 'include', cgroups: [CGROUP] });
    assert.deepEqual(await who(inCgroup), ['remote', 'remote'], 'the included cgroup through the tunnel');
    assert.deepEqual(await who(), ['lan', 'lan'], 'everything else by the LAN');

    await call(204, 'DELETE', '/split-tunnel');
    assert.deepEqual(splitRules(), [], 'DELETE takes the rules');
    assert.ok(!nftTables().includes(SPLIT_TABLE), 'and the table');
    assert.deepEqual(await who(), ['remote', 'remote'], 'full tunnel again');
    assert.equal((await call(200, 'GET', '/split-tunnel')).mode, null);

    // Deinit takes a split that is still set.
    await call(200, 'PUT', '/split-tunnel', { mode: 'exclude', uids: [String(NOBODY)], cgroups: [CGROUP] });
    await call(204, 'DELETE', `/interfaces/${TUN}`);
    assert.deepEqual(ourRules(), [], 'deinit leaves no rule (ip rule show protocol 86)');
    assert.ok(!nftTables().includes(SPLIT_TABLE), 'nor the split table');
    const backlog = await call(200, 'GET', '/events?since=0');
    assert.deepEqual(
      backlog.events.filter((e: { type: string }) => e.type === 'split.changed').map((e: { data: { mode: string | null } }) => e.data.mode),
      ['exclude', 'include', 'exclude', 'include', null, 'exclude', null],
      'split.changed at every PUT, DELETE and deinit',
    );

    // A crash leaves the split in the kernel; the next start removes it.
    await call(200, 'PUT', '/split-tunnel', { mode: 'exclude', uids: [String(NOBODY)], cgroups: [CGROUP] });
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    assert.equal(splitRules().length, 2, 'the crashed daemon left its uid rules');
    assert.ok(nftTables().includes(SPLIT_TABLE), 'and its table');
    daemon = await startDaemon(dir);
    assert.deepEqual(ourRules(), [], 'the next start removed the rules');
    assert.ok(!nftTables().includes(SPLIT_TABLE), 'and the table');

    // A split set without a VPN interface goes at a clean stop too.
    await call(200, 'PUT', '/split-tunnel', { mode: 'include', uids: ['0'], cgroups: [CGROUP] });
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
    assert.deepEqual(ourRules(), [], 'a clean stop leaves no rule');
    assert.ok(!nftTables().includes(SPLIT_TABLE), 'nor the table');
  });
});
