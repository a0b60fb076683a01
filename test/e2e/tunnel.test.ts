/**
 * The end-to-end tunnel: the service runs here (the test namespace, "A") with its TUN at
 * 10.76.0.1 peer .2; `vpnsvc bridge` runs in namespace B, linked to A by a veth pair, with its
 * TUN at .2 peer .1. Ping goes both ways and a TCP transfer arrives byte-exact, in each framing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
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
const TRANSFER_BYTES = 4 * 1024 * 1024;

// Never execFileSync here: the service runs in this process and must keep pumping meanwhile.
const run = promisify(execFile);
const inB = (cmd: string, args: string[]) => run('ip', ['netns', 'exec', NS_B, cmd, ...args], { timeout: 20_000 });

/** Starts a process in B and resolves when its output matches `ready`. */
const startInB = (args: string[], ready: RegExp, env: Record<string, string> = {}) => startNode(NS_B, args, ready, env);

async function service(t: TestContext): Promise<{ built: Built; port: number }> {
  const built = await build(t);
  await built.admin.post('/interfaces').send({ name: TUN_A }).expect(201);
  const ipv6 = `/proc/sys/net/ipv6/conf/${TUN_A}/disable_ipv6`;
  if (existsSync(ipv6)) writeFileSync(ipv6, '1');
  await built.admin.patch(`/interfaces/${TUN_A}`).send({ localIp: END_A, remoteIp: END_B }).expect(200);
  await built.admin.post(`/interfaces/${TUN_A}/apply`).expect(200);
  await built.app.listen({ host: LINK_A, port: 0 });
  return { built, port: (built.app.server.address() as AddressInfo).port };
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

  for (const framing of ['packet', 'batch']) {
    test(`${framing} framing: ping both ways, TCP arrives byte-exact`, async (t) => {
      const { built, port } = await service(t);
      const b = await bridge(port, framing);
      t.after(() => stopProcess(b.child));

      await run('ping', ping([END_B]), { timeout: 20_000 }); // A → B; rejects on loss
      await inB('ping', ping([END_A])); // B → A

      // A sink in B hashes what it receives; we send random bytes from A through the tunnel.
      const sink = await startInB(
        [
          '-e',
          `const h=require('crypto').createHash('sha256');let n=0;
           const s=require('net').createServer((c)=>{c.on('data',(d)=>{h.update(d);n+=d.length});
           c.on('end',()=>{console.log('got '+n+' '+h.digest('hex'));s.close()})}).listen(5555,'${END_B}',()=>console.log('listening'));`,
        ],
        /listening/,
      );
      t.after(() => stopProcess(sink.child));
      const data = randomBytes(TRANSFER_BYTES);
      await new Promise<void>((resolve, reject) => {
        const sock = connect(5555, END_B, () => sock.end(data));
        sock.on('error', reject);
        sock.on('close', () => resolve());
      });
      await new Promise<void>((resolve) => (sink.child.exitCode !== null ? resolve() : sink.child.once('exit', () => resolve())));
      const expected = `got ${TRANSFER_BYTES} ${createHash('sha256').update(data).digest('hex')}`;
      assert.match(sink.output(), new RegExp(expected), 'the bytes arrived complete and unchanged');

      const counters = (await built.admin.get(`/interfaces/${TUN_A}`).expect(200)).body.counters;
      assert.ok(counters.txPackets > TRANSFER_BYTES / 1500, 'the kernel counted the packets through the TUN');
      assert.equal(counters.writeDropped, 0);
    });
  }
});
