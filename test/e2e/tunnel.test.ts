/**
 * The end-to-end tunnel: the service runs here (the test namespace, "A") with its TUN at
 * 10.76.0.1 peer .2 (and fd00:76::1); `vpnsvc bridge` runs in namespace B, linked to A by a veth
 * pair, with its TUN at .2 peer .1 (and fd00:76::2). Ping goes both ways, IPv4 and IPv6, and TCP
 * transfers arrive byte-exact A → B over IPv4 and B → A over IPv6, in each framing, with the
 * service's TUN plain or in offload mode and the bridge's TUN plain or in offload mode (the gso
 * framing), so every mix of segmenting and not segmenting is crossed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/project-root.js';
import { type Built, build, TOKENS } from '../helpers/app.js';
import { ip, kernelTestOptions } from '../helpers/kernel.js';
import { startNode, stopProcess } from '../helpers/node-process.js';

const NS_B = `vsdp-e2e-${process.pid}`;
const VETH_A = 'vsdpe0';
const VETH_B = 'vsdpe1';
const LINK_A = '10.79.0.1';
const LINK_B = '10.79.0.2';
const TUN_A = 'vse0';
const TUN_B = 'vse1';
const END_A = '10.76.0.1';
const END_B = '10.76.0.2';
const END6_A = 'fd00:76::1';
const END6_B = 'fd00:76::2';
const TRANSFER_BYTES = 4 * 1024 * 1024;

// Never execFileSync here: the service runs in this process and must keep pumping meanwhile.
const run = promisify(execFile);
const inB = (cmd: string, args: string[]) => run('ip', ['netns', 'exec', NS_B, cmd, ...args], { timeout: 20_000 });

/** Starts a process in B and resolves when its output matches `ready`. */
const startInB = (args: string[], ready: RegExp, env: Record<string, string> = {}) => startNode(NS_B, args, ready, env);

async function service(t: TestContext, offload: boolean): Promise<{ built: Built; port: number }> {
  const built = await build(t);
  const created = await built.admin.post('/interfaces').send({ name: TUN_A, offload }).expect(201);
  assert.equal(created.body.offload.enabled, offload);
  await built.admin
    .patch(`/interfaces/${TUN_A}`)
    .send({ localIp: END_A, remoteIp: END_B, localIp6: `${END6_A}/64` })
    .expect(200);
  await built.admin.post(`/interfaces/${TUN_A}/apply`).expect(200);
  await built.app.listen({ host: LINK_A, port: 0 });
  return { built, port: (built.app.server.address() as AddressInfo).port };
}

/** Sends `data` to port 5555 of `host` in namespace B through the tunnel; resolves with what the sink there reported. */
async function sendToB(host: string, data: Buffer): Promise<string> {
  const sink = await startInB(
    [
      '-e',
      `const h=require('crypto').createHash('sha256');let n=0;
       const s=require('net').createServer((c)=>{c.on('data',(d)=>{h.update(d);n+=d.length});
       c.on('end',()=>{console.log('got '+n+' '+h.digest('hex'));s.close()})}).listen(5555,'${host}',()=>console.log('listening'));`,
    ],
    /listening/,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const sock = connect(5555, host, () => sock.end(data));
      sock.on('error', reject);
      sock.on('close', () => resolve());
    });
    await new Promise<void>((resolve) => (sink.child.exitCode !== null ? resolve() : sink.child.once('exit', () => resolve())));
    return sink.output();
  } finally {
    await stopProcess(sink.child);
  }
}

/** Has namespace B send `bytes` random bytes to `host` here through the tunnel; resolves with what arrived. */
async function receiveFromB(host: string, bytes: number): Promise<{ received: Buffer; sent: string }> {
  const chunks: Buffer[] = [];
  const server = createServer((c) => c.on('data', (d: Buffer) => chunks.push(d)));
  await new Promise<void>((resolve) => server.listen(5556, host, resolve));
  try {
    const { stdout } = await inB(process.execPath, [
      '-e',
      `const d=require('crypto').randomBytes(${bytes});const h=require('crypto').createHash('sha256').update(d).digest('hex');
       const c=require('net').connect(5556,'${host}',()=>c.end(d));c.on('close',()=>console.log(h));`,
    ]);
    // The sender has closed; the last bytes may still be on their way through this process's pump.
    for (let i = 0; i < 100 && chunks.reduce((n, c) => n + c.length, 0) < bytes; i++) await sleep(20);
    return { received: Buffer.concat(chunks), sent: stdout.trim() };
  } finally {
    server.close();
  }
}

function bridge(port: number, framing: string) {
  return startInB(
    [
      '--import',
      'tsx',
      join(projectRoot(), 'src/cli/main.ts'),
      'bridge',
      '--url',
      `ws://${LINK_A}:${port}/interfaces/${TUN_A}/stream`,
      '--name',
      TUN_B,
      '--local',
      END_B,
      '--peer',
      END_A,
      '--framing',
      framing,
    ],
    /bridge: up/,
    { VPNSVC_TOKEN: TOKENS.admin },
  );
}

const ping = (args: string[]) => ['-c', '3', '-i', '0.2', '-W', '3', ...args];

describe('end-to-end tunnel through vpnsvc bridge', kernelTestOptions(), () => {
  before(() => {
    ip('netns', 'add', NS_B);
    ip('-n', NS_B, 'link', 'set', 'lo', 'up');
    ip('link', 'add', VETH_A, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', NS_B);
    ip('addr', 'add', `${LINK_A}/24`, 'dev', VETH_A);
    ip('-n', NS_B, 'addr', 'add', `${LINK_B}/24`, 'dev', VETH_B);
    ip('link', 'set', VETH_A, 'up');
    ip('-n', NS_B, 'link', 'set', VETH_B, 'up');
  });
  after(() => {
    try {
      ip('netns', 'delete', NS_B); // takes the veth pair with it
    } catch {
      // never made
    }
  });

  // framing, whether the service's TUN is in offload mode; the bridge's TUN offloads in the gso framing.
  const cases: [string, boolean][] = [
    ['packet', false],
    ['batch', false],
    ['gso', false],
    ['gso', true],
    ['batch', true],
    ['packet', true],
  ];
  for (const [framing, offload] of cases) {
    const bridgeOffloads = framing === 'gso';
    const label = `${framing} framing, service TUN ${offload ? 'in offload mode' : 'plain'}, bridge TUN ${bridgeOffloads ? 'in offload mode' : 'plain'}`;
    test(`${label}: ping both ways, TCP arrives byte-exact both ways, IPv4 and IPv6`, async (t) => {
      const { built, port } = await service(t, offload);
      const b = await bridge(port, framing);
      t.after(() => stopProcess(b.child));
      assert.match(b.output(), new RegExp(`framing vpnsvc\\.${framing}\\.v1${bridgeOffloads ? ' \\(TUN in offload mode\\)' : ''}`));
      await inB('ip', ['addr', 'add', `${END6_B}/64`, 'dev', TUN_B, 'nodad']);

      await run('ping', ping([END_B]), { timeout: 20_000 }); // A → B; rejects on loss
      await inB('ping', ping([END_A])); // B → A
      await run('ping', ping(['-6', END6_B]), { timeout: 20_000 });

      const data = randomBytes(TRANSFER_BYTES);
      const expected = `got ${TRANSFER_BYTES} ${createHash('sha256').update(data).digest('hex')}`;
      const txBefore = (await built.admin.get(`/interfaces/${TUN_A}`).expect(200)).body.counters.txPackets;
      assert.match(await sendToB(END_B, data), new RegExp(expected), 'A → B over IPv4: complete and unchanged');
      const txOfTransfer = (await built.admin.get(`/interfaces/${TUN_A}`).expect(200)).body.counters.txPackets - txBefore;
      // One packet per full-sized segment (MSS 1448 on an MTU of 1500) without offloads; the
      // kernel counts a super-packet once, so far fewer means they flowed.
      const segments = TRANSFER_BYTES / 1448;
      t.diagnostic(`A → B: ${txOfTransfer} packets left the TUN for ${Math.ceil(segments)} segments`);
      if (offload) assert.ok(txOfTransfer < segments / 2, `super-packets left the TUN (${txOfTransfer} packets for the transfer)`);
      else assert.ok(txOfTransfer >= segments, `one packet per segment (${txOfTransfer} packets for the transfer)`);
      const back = await receiveFromB(END6_A, TRANSFER_BYTES);
      assert.equal(back.received.length, TRANSFER_BYTES, 'B → A over IPv6: every byte arrived');
      assert.equal(createHash('sha256').update(back.received).digest('hex'), back.sent, 'B → A over IPv6: unchanged');

      const counters = (await built.admin.get(`/interfaces/${TUN_A}`).expect(200)).body.counters;
      assert.equal(counters.writeDropped, 0);
      assert.equal(counters.framesRejected, 0);
    });
  }
});
