/**
 * The full tunnel on a host with a LAN default route, proved with traffic. The service runs here
 * (the client namespace) with a default route to the "LAN" namespace; the "remote" namespace sits
 * behind the LAN, and `vpnsvc bridge` runs there, so the packet stream's own TCP connection
 * travels by the LAN's default route. The same address (198.51.100.7, 2001:db8:7::7) answers in
 * both the LAN and the remote namespace, each with its own name, so an answer says which way a
 * packet went: "lan" before the full tunnel (the negative control), "remote" through it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/project-root.js';
import type { VpnEvent } from '../../src/contract/api-types.js';
import { build, TOKENS } from '../helpers/app.js';
import { ip, ipJson, kernelTestOptions } from '../helpers/kernel.js';
import { createLanRemoteNet, type LanRemoteNet, removeLanRemoteNet } from '../helpers/lan-remote-net.js';
import { startNode, stopProcess } from '../helpers/node-process.js';

const NS_LAN = `vsft-lan-${process.pid}`;
const NS_REMOTE = `vsft-rem-${process.pid}`;
const C_VETH = 'vsftc0';
const LAN_VETH_C = 'vsftl0';
const LAN_VETH_R = 'vsftl1';
const R_VETH = 'vsftr0';
const TUN = 'vsft0';
const TUN_R = 'vsft1';
const TARGET4 = '198.51.100.7';
const TARGET6 = '2001:db8:7::7';
const NET: LanRemoteNet = {
  lan: NS_LAN,
  remote: NS_REMOTE,
  veths: { client: C_VETH, lanClient: LAN_VETH_C, lanRemote: LAN_VETH_R, remote: R_VETH },
  subnet: 81,
  target4: TARGET4,
  target6: TARGET6,
  lanForwards: true,
};
const run = promisify(execFile);

const SERVER = `
const name = process.argv[2];
require('net').createServer((c) => c.end(name)).listen(7000, '::');
const u = require('dgram').createSocket({ type: 'udp6' });
u.on('message', (m, r) => u.send(name, r.port, r.address));
u.bind(7001, '::', () => console.log('serving'));
`;

/** Two UDP sockets whose fds are printed; a line on stdin sends a datagram from each to the target, and the answers are printed. */
const UDP_CLIENT = `
const socks = [0, 1].map(() => require('dgram').createSocket('udp4'));
for (const s of socks) {
  s.bind(0, () => console.log('fd ' + s._handle.fd));
  s.on('message', (m) => console.log('got ' + m));
}
require('readline').createInterface({ input: process.stdin }).on('line', () => socks.forEach((s) => s.send('hi', 7001, '${TARGET4}')));
`;

/** Who answers at the target over TCP: "lan" or "remote". */
function whoAnswers(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = connect({ host, port: 7000, timeout: 5000 });
    s.on('data', (d) => {
      got += d.toString();
    });
    s.on('end', () => resolve(got));
    s.on('timeout', () => s.destroy(new Error(`no answer from ${host} in 5 s`)));
    s.on('error', reject);
  });
}

const routeDev = (...args: string[]) => ipJson<Array<{ dev?: string }>>(...args)[0]?.dev;
const ourRules = () =>
  ['-4', '-6'].flatMap((f) => ipJson<Array<{ protocol?: string }>>(f, 'rule', 'show')).filter((r) => r.protocol === '86');

describe('full tunnel with its own routing table, beside the LAN default route', kernelTestOptions(), () => {
  before(() => createLanRemoteNet(NET));
  after(() => removeLanRemoteNet(NET));

  test('dual-stack ping, remote traffic through the TUN but not the stream nor a protected socket, an excluded route, a link flap, deinit', async (t) => {
    const script = join(tmpdir(), `vsft-server-${process.pid}.js`);
    writeFileSync(script, SERVER);
    for (const [ns, name] of [
      [NS_LAN, 'lan'],
      [NS_REMOTE, 'remote'],
    ] as const) {
      const server = await startNode(ns, [script, name], /serving/);
      t.after(() => stopProcess(server.child));
    }

    const built = await build(t);
    const { admin } = built;
    await admin.post('/interfaces').send({ name: TUN }).expect(201);
    await admin.patch(`/interfaces/${TUN}`).send({ localIp: '10.76.0.1', remoteIp: '10.76.0.2', localIp6: 'fd00:8::1/64' }).expect(200);
    const applied = await admin.post(`/interfaces/${TUN}/apply`).expect(200);
    assert.equal(applied.body.localIp6, 'fd00:8::1/64', 'the IPv6 address read back from the kernel');
    const addr6 = ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number; tentative?: boolean }> }>>(
      '-6',
      'addr',
      'show',
      'dev',
      TUN,
      'scope',
      'global',
    );
    assert.deepEqual(
      addr6[0]?.addr_info.filter((a) => a.local).map((a) => [a.local, a.prefixlen, a.tentative ?? false]),
      [['fd00:8::1', 64, false]],
      'set without DAD: not tentative',
    );
    await built.app.listen({ host: '10.81.0.1', port: 0 });
    const port = (built.app.server.address() as AddressInfo).port;

    const bridge = await startNode(
      NS_REMOTE,
      [
        '--import',
        'tsx',
        join(projectRoot(), 'src/cli/main.ts'),
        'bridge',
        '--url',
        `ws://10.81.0.1:${port}/interfaces/${TUN}/stream`,
        '--name',
        TUN_R,
        '--local',
        '10.76.0.2',
        '--peer',
        '10.76.0.1',
      ],
      /bridge: up/,
      { VPNSVC_TOKEN: TOKENS.admin },
    );
    t.after(() => stopProcess(bridge.child));
    ip('-n', NS_REMOTE, '-6', 'addr', 'add', 'fd00:8::2/64', 'dev', TUN_R, 'nodad');

    // Dual stack through the tunnel: both families, ping and TCP.
    await run('ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.76.0.2'], { timeout: 20_000 });
    await run('ping', ['-6', '-c', '2', '-i', '0.2', '-W', '3', 'fd00:8::2'], { timeout: 20_000 });

    // Negative control: without the full tunnel the LAN answers.
    assert.equal(await whoAnswers(TARGET4), 'lan');
    assert.equal(await whoAnswers(TARGET6), 'lan');

    await admin.post('/routes').send({ address: '0.0.0.0', prefix: 0 }).expect(201);
    await admin.post('/routes').send({ address: '::', prefix: 0 }).expect(201);
    assert.equal(await whoAnswers(TARGET4), 'remote', 'IPv4 goes through the tunnel');
    assert.equal(await whoAnswers(TARGET6), 'remote', 'IPv6 goes through the tunnel');
    assert.equal(ourRules().length, 4);

    // The stream's own connection comes from 10.82.0.2 by the LAN: an unmarked packet there would
    // enter the tunnel, the daemon's marked socket does not, and the stream keeps carrying.
    assert.equal(routeDev('route', 'get', '10.82.0.2'), TUN, 'negative control: an unmarked socket would enter the TUN');
    assert.equal(routeDev('route', 'get', '10.82.0.2', 'mark', '0x7686'), C_VETH);
    await run('ping', ['-c', '3', '-i', '0.2', '-W', '3', '10.76.0.2'], { timeout: 20_000 });
    assert.equal(await whoAnswers(TARGET4), 'remote', 'still through the stream');

    // A protected socket leaves by the LAN; the same process's other socket goes through the tunnel.
    const client = await startNode(undefined, ['-e', UDP_CLIENT], /fd \d+[\s\S]*fd \d+/, {}, 'pipe');
    t.after(() => stopProcess(client.child));
    const [protectedFd, plainFd] = [...client.output().matchAll(/fd (\d+)/g)].map((m) => Number(m[1]));
    // The facade's protect, as POST /protect calls it for root over the unix socket.
    built.vpnsvc.protect(client.child.pid!, protectedFd!, C_VETH, { uid: 0 });
    const lines = createInterface({ input: client.child.stdout! });
    const answers: string[] = [];
    lines.on('line', (l) => l.startsWith('got ') && answers.push(l.slice(4)));
    client.child.stdin?.write('send\n');
    for (let i = 0; i < 50 && answers.length < 2; i++) await sleep(100);
    assert.deepEqual(answers.sort(), ['lan', 'remote'], `protected fd ${protectedFd} by the LAN, fd ${plainFd} through the tunnel`);

    // Excluded: the prefix stays on the LAN under the full tunnel.
    await admin.post('/routes').send({ address: '198.51.100.0', prefix: 24, exclude: true }).expect(201);
    assert.equal(await whoAnswers(TARGET4), 'lan', 'the excluded prefix by the LAN');
    assert.equal(await whoAnswers(TARGET6), 'remote', 'IPv6 still through the tunnel');
    await admin.delete('/routes/198.51.100.0/24').expect(204);
    await admin.post('/routes').send({ address: '10.99.0.0', prefix: 16 }).expect(201);
    const before = (await admin.get('/routes').expect(200)).body;

    // Link flap: the kernel drops the routes and the IPv6 address at down; the service puts them back at up.
    const restored = new Promise<VpnEvent>((resolve) => {
      const off = built.vpnsvc.events.subscribe((e) => {
        if (e.type === 'routes.restored') {
          off();
          resolve(e);
        }
      });
    });
    ip('link', 'set', TUN, 'down');
    const pending = await admin.get('/routes/policy').expect(200);
    assert.ok(pending.body.pending.length > 0, 'while down, the kept routes are pending');
    ip('link', 'set', TUN, 'up');
    const event = await Promise.race([restored, sleep(10_000).then(() => undefined)]);
    assert.ok(event, 'routes.restored came');
    assert.equal((event.data as { cause: string }).cause, 'link-up');
    assert.deepEqual((await admin.get('/routes').expect(200)).body, before, 'every route is back');
    assert.equal((await admin.get(`/interfaces/${TUN}`).expect(200)).body.localIp6, 'fd00:8::1/64', 'and the IPv6 address');
    assert.equal(await whoAnswers(TARGET4), 'remote');
    assert.equal(await whoAnswers(TARGET6), 'remote');

    await admin.delete(`/interfaces/${TUN}`).expect(204);
    assert.deepEqual(ourRules(), [], 'deinit takes the rules');
    assert.equal(await whoAnswers(TARGET4), 'lan', 'and traffic is back on the LAN');
  });
});
