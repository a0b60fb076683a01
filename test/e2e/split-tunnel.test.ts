/**
 * Split tunnelling under a full tunnel, proved with traffic. As in full-tunnel.test.ts the service
 * runs here (the client namespace) with a default route to the "LAN" namespace, and `vpnsvc
 * bridge` runs in the "remote" namespace behind it. The same address answers in the LAN and in
 * the remote namespace with its own name, so an answer says which way a connection went: "lan"
 * (bypassing the VPN) or "remote" (through the TUN). Processes run as another uid with setpriv,
 * and in a cgroup of their own with `vpnsvc exec`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/project-root.js';
import type { VpnEvent } from '../../src/contract/api-types.js';
import { cgroup2Mount, SPLIT_TABLE } from '../../src/system/split-rules.js';
import { build, TOKENS } from '../helpers/app.js';
import { ip, ipJson, kernelTestOptions } from '../helpers/kernel.js';

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
const NOBODY = 65534;
const CGROUP = `/vpnsvc.test-split-${process.pid}`;
const run = promisify(execFile);
/** A cgroup2 mount of the test's own, when its mount namespace has none (`ip netns exec` mounts a fresh /sys). */
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

function startIn(ns: string | undefined, args: string[], ready: RegExp, env: Record<string, string> = {}) {
  const argv = ns ? ['ip', 'netns', 'exec', ns, process.execPath, ...args] : [process.execPath, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: projectRoot(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise<{ child: ChildProcess; output: () => string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ready:\n${out}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const force = setTimeout(() => child.kill('SIGKILL'), 5000);
  return exited.finally(() => clearTimeout(force));
}

/** Who answers at TARGET4 and TARGET6 for a process started with `prefix` (setpriv, vpnsvc exec). */
async function who(prefix: string[] = []): Promise<[string, string]> {
  const argv = [...prefix, process.execPath, '-e', WHO, TARGET4, TARGET6];
  const { stdout } = await run(argv[0]!, argv.slice(1), { cwd: projectRoot(), timeout: 20_000 });
  const [a = '', b = ''] = stdout.trim().split('\n');
  return [a, b];
}

const asNobody = ['setpriv', '--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups'];
const inCgroup = [process.execPath, '--import', 'tsx', join(projectRoot(), 'src/cli/main.ts'), 'exec', '--cgroup', CGROUP, '--'];

const ourRules = () =>
  ['-4', '-6'].flatMap((f) => ipJson<Array<{ protocol?: string; priority: number }>>(f, 'rule', 'show')).filter((r) => r.protocol === '86');
const splitRules = () => ourRules().filter((r) => r.priority < 32600);
const nftTables = () => execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
const tunTxPackets = () => ipJson<Array<{ stats64: { tx: { packets: number } } }>>('-s', 'link', 'show', TUN)[0]!.stats64.tx.packets;

describe('split tunnelling by user and by program under a full tunnel', kernelTestOptions(), () => {
  before(() => {
    for (const ns of [NS_LAN, NS_REMOTE]) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('link', 'add', C_VETH, 'type', 'veth', 'peer', 'name', LAN_VETH_C, 'netns', NS_LAN);
    ip('-n', NS_LAN, 'link', 'add', LAN_VETH_R, 'type', 'veth', 'peer', 'name', R_VETH, 'netns', NS_REMOTE);
    ip('addr', 'add', '10.83.0.1/24', 'dev', C_VETH);
    ip('-6', 'addr', 'add', 'fd83::1/64', 'dev', C_VETH, 'nodad');
    ip('link', 'set', C_VETH, 'up');
    ip('route', 'add', 'default', 'via', '10.83.0.2');
    ip('-6', 'route', 'add', 'default', 'via', 'fd83::2');
    ip('-n', NS_LAN, 'addr', 'add', '10.83.0.2/24', 'dev', LAN_VETH_C);
    ip('-n', NS_LAN, '-6', 'addr', 'add', 'fd83::2/64', 'dev', LAN_VETH_C, 'nodad');
    ip('-n', NS_LAN, 'addr', 'add', '10.84.0.1/24', 'dev', LAN_VETH_R);
    ip('-n', NS_LAN, 'link', 'set', LAN_VETH_C, 'up');
    ip('-n', NS_LAN, 'link', 'set', LAN_VETH_R, 'up');
    ip('-n', NS_REMOTE, 'addr', 'add', '10.84.0.2/24', 'dev', R_VETH);
    ip('-n', NS_REMOTE, 'link', 'set', R_VETH, 'up');
    ip('-n', NS_REMOTE, 'route', 'add', 'default', 'via', '10.84.0.1');
    for (const ns of [NS_LAN, NS_REMOTE]) {
      ip('-n', ns, 'addr', 'add', `${TARGET4}/32`, 'dev', 'lo');
      ip('-n', ns, '-6', 'addr', 'add', `${TARGET6}/128`, 'dev', 'lo');
    }
    ip('netns', 'exec', NS_LAN, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  });
  after(() => {
    for (const ns of [NS_LAN, NS_REMOTE]) {
      try {
        ip('netns', 'delete', ns);
      } catch {
        // never made
      }
    }
    const mount = cgroup2Mount();
    if (mount && existsSync(`${mount}${CGROUP}`)) rmdirSync(`${mount}${CGROUP}`);
    if (ownMount) {
      execFileSync('umount', [ownMount]);
      rmdirSync(ownMount);
    }
  });

  test('exclude and include by uid and by cgroup, the kill switch lets the bypass through, DELETE and deinit leave nothing', async (t) => {
    const built = await build(t);
    const { admin } = built;
    if (cgroup2Mount() === null) {
      // Without a cgroup2 mount, split by program is not supported, and says why.
      const features = (await admin.get('/features').expect(200)).body;
      assert.equal(features.splitByCgroup.status, 'NOT_SUPPORTED');
      assert.match(features.splitByCgroup.reason, /no cgroup2 mount/);
      const refused = await admin.put('/split-tunnel').send({ mode: 'exclude', cgroups: [CGROUP] }).expect(501);
      assert.equal(refused.body.error, 'VPNSVC_ERROR_NOT_SUPPORTED');
      ownMount = mkdtempSync(join(tmpdir(), 'vsst-cgroup2-'));
      execFileSync('mount', ['-t', 'cgroup2', 'cgroup2', ownMount]);
    }
    const mount = cgroup2Mount();
    assert.ok(mount, 'a cgroup2 mount');
    assert.equal((await admin.get('/features').expect(200)).body.splitByCgroup.cgroup2Mount, mount);
    const missing = await admin.put('/split-tunnel').send({ mode: 'exclude', cgroups: [CGROUP] }).expect(400);
    assert.match(missing.body.message, /does not exist under the cgroup2 mount/);
    mkdirSync(`${mount}${CGROUP}`);
    const script = join(tmpdir(), `vsst-server-${process.pid}.js`);
    writeFileSync(script, SERVER);
    for (const [ns, name] of [
      [NS_LAN, 'lan'],
      [NS_REMOTE, 'remote'],
    ] as const) {
      const server = await startIn(ns, [script, name], /serving/);
      t.after(() => stop(server.child));
    }

    const putSplit = async (body: object) => {
      const r = await admin.put('/split-tunnel').send(body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r;
    };
    const events: VpnEvent[] = [];
    t.after(built.vpnsvc.events.subscribe((e) => e.type === 'split.changed' && events.push(e)));
    await admin.post('/interfaces').send({ name: TUN }).expect(201);
    await admin.patch(`/interfaces/${TUN}`).send({ localIp: '10.77.0.1', remoteIp: '10.77.0.2', localIp6: 'fd00:9::1/64' }).expect(200);
    await admin.post(`/interfaces/${TUN}/apply`).expect(200);
    await built.app.listen({ host: '10.83.0.1', port: 0 });
    const port = (built.app.server.address() as AddressInfo).port;
    const bridge = await startIn(
      NS_REMOTE,
      [
        '--import',
        'tsx',
        join(projectRoot(), 'src/cli/main.ts'),
        'bridge',
        '--url',
        `ws://10.83.0.1:${port}/interfaces/${TUN}/stream`,
        '--name',
        TUN_R,
        '--local',
        '10.77.0.2',
        '--peer',
        '10.77.0.1',
      ],
      /bridge: up/,
      { VPNSVC_TOKEN: TOKENS.admin },
    );
    t.after(() => stop(bridge.child));
    ip('-n', NS_REMOTE, '-6', 'addr', 'add', 'fd00:9::2/64', 'dev', TUN_R, 'nodad');

    assert.deepEqual(await who(asNobody), ['lan', 'lan'], 'negative control: without the full tunnel everyone reaches the LAN');
    await admin.post('/routes').send([
      { address: '0.0.0.0', prefix: 0 },
      { address: '::', prefix: 0 },
    ]).expect(201);
    assert.deepEqual(await who(), ['remote', 'remote'], 'root through the tunnel');
    assert.deepEqual(await who(asNobody), ['remote', 'remote'], 'and nobody too, before any split');

    // By user, exclude: nobody bypasses the VPN; root's traffic still enters the TUN.
    const put = await putSplit({ mode: 'exclude', uids: [String(NOBODY), '2000-2999'] });
    assert.equal(put.body.mode, 'exclude');
    assert.deepEqual(put.body.uids, ['2000-2999', String(NOBODY)], 'sorted, read back from ip rule');
    assert.deepEqual(
      put.body.rules.filter((r: { family: number }) => r.family === 4).map((r: { rule: string }) => r.rule),
      ['uidrange 2000-2999 lookup main', `uidrange ${NOBODY}-${NOBODY} lookup main`],
    );
    assert.equal(splitRules().length, 4, 'IPv4 and IPv6');
    assert.deepEqual(await who(asNobody), ['lan', 'lan'], 'an excluded uid reaches the LAN directly');
    const tx = tunTxPackets();
    assert.deepEqual(await who(), ['remote', 'remote'], "root's traffic enters the TUN");
    assert.ok(tunTxPackets() > tx, 'the TUN carried root’s packets');

    // The kill switch lets the excluded uid through on the original interface; root stays in the VPN.
    await admin.put('/firewall').send({ allowVpn: [{ address: '0.0.0.0', prefix: 0 }, { address: '::', prefix: 0 }], allowOriginal: [{ address: '10.84.0.2', prefix: 32 }] }).expect(200);
    assert.deepEqual(await who(asNobody), ['lan', 'lan'], 'under the kill switch, the excluded uid still reaches the LAN');
    assert.deepEqual(await who(), ['remote', 'remote'], 'root through the tunnel under the kill switch');

    // By user, include: only root uses the VPN; nobody goes to the LAN.
    await putSplit({ mode: 'include', uids: ['0'] });
    const got = (await admin.get('/split-tunnel').expect(200)).body;
    assert.equal(got.mode, 'include');
    assert.deepEqual(got.uids, ['0']);
    assert.deepEqual(await who(), ['remote', 'remote'], 'the included uid through the tunnel');
    assert.deepEqual(await who(asNobody), ['lan', 'lan'], 'every other uid by the LAN (kill switch still set)');
    await admin.delete('/firewall').expect(204);

    // By program, exclude: a process in the excluded cgroup bypasses the VPN; root outside it does not.
    const cg = await putSplit({ mode: 'exclude', cgroups: [CGROUP] });
    assert.deepEqual(cg.body.cgroups, [CGROUP], 'read back from nft');
    assert.deepEqual(splitRules(), [], 'no uid rules left from the include mode');
    assert.deepEqual(await who(inCgroup), ['lan', 'lan'], 'a process in the excluded cgroup reaches the LAN');
    assert.deepEqual(await who(), ['remote', 'remote'], 'root outside it through the tunnel');

    // By program, include: only the cgroup's processes use the VPN.
    await putSplit({ mode: 'include', cgroups: [CGROUP] });
    assert.deepEqual(await who(inCgroup), ['remote', 'remote'], 'the included cgroup through the tunnel');
    assert.deepEqual(await who(), ['lan', 'lan'], 'everything else by the LAN');

    await admin.delete('/split-tunnel').expect(204);
    assert.deepEqual(splitRules(), [], 'DELETE takes the rules');
    assert.ok(!nftTables().includes(SPLIT_TABLE), 'and the table');
    assert.deepEqual(await who(), ['remote', 'remote'], 'full tunnel again');
    assert.deepEqual((await admin.get('/split-tunnel').expect(200)).body.mode, null);

    // Deinit takes a split that is still set.
    await putSplit({ mode: 'exclude', uids: [String(NOBODY)], cgroups: [CGROUP] });
    await admin.delete(`/interfaces/${TUN}`).expect(204);
    assert.deepEqual(ourRules(), [], 'deinit leaves no rule (ip rule show protocol 86)');
    assert.ok(!nftTables().includes(SPLIT_TABLE), 'nor the split table');
    assert.deepEqual(
      events.map((e) => (e.data as { mode: string | null }).mode),
      ['exclude', 'include', 'exclude', 'include', null, 'exclude', null],
      'split.changed at every PUT, DELETE and deinit',
    );
  });
});
