/**
 * The packet stream in its worker thread: packets keep flowing while the API's event loop is
 * blocked, the counters on GET follow the stream live, an interface removed under a saturated
 * stream is gone from the kernel when DELETE answers and its client gets its close, and a TLS
 * stream (which stays on the API's thread) behaves the same.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { FRAMING_BATCH, FRAMING_PACKET } from '../../src/dataplane/framing.js';
import { build, TOKENS } from '../helpers/app.js';
import { type Daemon, logLines, spawnDaemon, waitReady } from '../helpers/daemon.js';
import { kernelTestOptions, link } from '../helpers/kernel.js';
import { freePort, selfSignedCert } from '../helpers/net.js';
import { startNode, stopProcess } from '../helpers/node-process.js';
import { batch, ipv4Udp, readIpv4Udp, splitBatch } from '../helpers/packets.js';

const IFACE = 'vswk0';
const LOCAL = '10.68.0.1';
const PEER = '10.68.0.2';
/** How long the API's thread is kept busy. */
const BLOCK_MS = 300;

async function until<T>(what: string, get: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = get();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function disableIpv6(): void {
  // IPv6 would have the kernel send router solicitations into the TUN at random moments.
  const ipv6 = `/proc/sys/net/ipv6/conf/${IFACE}/disable_ipv6`;
  if (existsSync(ipv6)) writeFileSync(ipv6, '1');
}

async function daemonTunnel(t: TestContext, env: Record<string, string> = {}, dir?: string): Promise<Daemon> {
  const daemon = spawnDaemon(env, dir);
  t.after(() => daemon.stop());
  await waitReady(daemon);
  assert.equal((await daemon.call('POST', '/interfaces', { name: IFACE })).status, 201);
  disableIpv6();
  assert.equal((await daemon.call('PATCH', `/interfaces/${IFACE}`, { localIp: LOCAL, remoteIp: PEER })).status, 200);
  assert.equal((await daemon.call('POST', `/interfaces/${IFACE}/apply`)).status, 200);
  return daemon;
}

/** A stream client of the daemon; resolves once open, with the connection under it. */
async function connect(url: string, framing: string, options: WebSocket.ClientOptions): Promise<{ ws: WebSocket; tcp: Socket }> {
  const ws = new WebSocket(url, [framing], options);
  let tcp: Socket | undefined;
  ws.on('upgrade', (res) => (tcp = res.socket as Socket));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, tcp: tcp as Socket };
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
}

/** Datagrams to the peer, which the kernel routes into the TUN, in bursts until stop(). */
function flood(payloadBytes: number): { stop(): void; sent(): number } {
  const sock: UdpSocket = createSocket('udp4');
  const payload = Buffer.alloc(payloadBytes, 0x5a);
  let sent = 0;
  let running = true;
  void (async () => {
    const deadline = Date.now() + 20_000;
    while (running && Date.now() < deadline) {
      for (let i = 0; i < 100; i++, sent++) sock.send(payload, 9, PEER);
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    stop: () => {
      if (!running) return;
      running = false;
      sock.close();
    },
    sent: () => sent,
  };
}

/**
 * A stream client in a process of its own (this process's event loop is the one blocked): it
 * sends datagrams into the tunnel every millisecond, notes when each packet comes back out of
 * the stream, and answers "FROM TO" on stdin with how many came between the two times.
 */
const COUNTING_CLIENT = `
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
const [url, peer] = process.argv.slice(1);
const arrivals = [];
const ws = new WebSocket(url, ['${FRAMING_BATCH}'], { headers: { authorization: 'Bearer ' + process.env.VPNSVC_TOKEN } });
ws.on('message', (m) => {
  let n = 0;
  for (let at = 0; at < m.length; at += 2 + m.readUInt16BE(at)) n++;
  arrivals.push([Date.now(), n]);
  if (arrivals.length === 1) console.log('flowing');
});
ws.on('open', () => {
  const udp = createSocket('udp4');
  const payload = Buffer.alloc(32);
  setInterval(() => { for (let i = 0; i < 4; i++) udp.send(payload, 9, peer); }, 1);
});
createInterface({ input: process.stdin }).on('line', (line) => {
  const [from, to] = line.split(' ').map(Number);
  console.log('count ' + arrivals.filter(([t]) => t >= from && t <= to).reduce((a, [, n]) => a + n, 0));
});
ws.on('close', () => process.exit(0));
`;

describe('the packet stream in its worker thread', kernelTestOptions(), () => {
  test(`packets keep flowing through the stream while the API's event loop is blocked for ${BLOCK_MS} ms`, async (t) => {
    const built = await build(t);
    await built.admin.post('/interfaces').send({ name: IFACE }).expect(201);
    disableIpv6();
    await built.admin.patch(`/interfaces/${IFACE}`).send({ localIp: LOCAL, remoteIp: PEER }).expect(200);
    await built.admin.post(`/interfaces/${IFACE}/apply`).expect(200);
    await built.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = built.app.server.address() as AddressInfo;
    const url = `ws://127.0.0.1:${port}/interfaces/${IFACE}/stream`;
    const client = await startNode(
      undefined,
      ['--input-type=module', '-e', COUNTING_CLIENT, url, PEER],
      /flowing/,
      { VPNSVC_TOKEN: TOKENS.admin },
      'pipe',
    );
    t.after(() => stopProcess(client.child));
    await sleep(200);

    const from = Date.now();
    while (Date.now() - from < BLOCK_MS) {
      // This thread, the API's, does nothing else meanwhile: no timer, no socket, no pump.
    }
    const to = Date.now();
    // Well inside the block: what came then did not pass through this thread.
    client.child.stdin?.write(`${from + 50} ${to - 50}\n`);
    const counted = await until('the client to count', () => /count (\d+)/.exec(client.output())?.[1]);
    t.diagnostic(`${counted} packets reached the client during the middle ${BLOCK_MS - 100} ms of the block`);
    assert.ok(Number(counted) >= 10, `packets flowed while the API's thread was blocked (${counted})`);
    const iface = await built.admin.get(`/interfaces/${IFACE}`).expect(200);
    assert.ok(iface.body.counters.txPackets > 0);
  });

  test('the counters on GET follow the stream live: drops of a stalled client, packets the TUN refused', async (t) => {
    const daemon = await daemonTunnel(t);
    const { ws, tcp } = await connect(`ws+unix://${daemon.socket}:/interfaces/${IFACE}/stream`, FRAMING_BATCH, {
      headers: { authorization: `Bearer ${daemon.token()}` },
    });
    t.after(() => ws.terminate());
    const attached = await until('the attach log line', () => logLines(daemon).find((l) => l.msg === 'packet stream attached'));
    assert.equal(attached.thread, 'worker');
    // A good packet and one that is not IP: the second is refused by the TUN and counted.
    ws.send(batch([ipv4Udp(PEER, LOCAL, 1, 9, Buffer.from('fine')), Buffer.from('not an IP packet, not at all')]));
    tcp.pause();
    const counters = async () => (await daemon.call('GET', `/interfaces/${IFACE}`)).body.counters;
    const f = flood(1200);
    t.after(() => f.stop());
    let first: any;
    for (let i = 0; i < 50 && !(first?.streamDropped > 0); i++) {
      await sleep(100);
      first = await counters();
    }
    await sleep(300);
    const second = await counters();
    f.stop();
    t.diagnostic(`sent ${f.sent()}; counters ${JSON.stringify(first)} then ${JSON.stringify(second)}`);
    assert.ok(first.streamDropped > 0, 'drops are counted while the stream is attached');
    assert.ok(second.streamDropped > first.streamDropped, 'and read live');
    assert.equal(second.writeDropped, 1);
    assert.equal(ws.readyState, WebSocket.OPEN, 'the slow client keeps its stream');
  });

  test('an interface removed under a stream saturated both ways: gone from the kernel when DELETE answers, the client gets 1001', async (t) => {
    const daemon = await daemonTunnel(t);
    const token = daemon.token();
    const url = `ws+unix://${daemon.socket}:/interfaces/${IFACE}/stream`;
    const { ws } = await connect(url, FRAMING_BATCH, { headers: { authorization: `Bearer ${token}` } });
    t.after(() => ws.terminate());
    let received = 0;
    ws.on('message', (m) => (received += splitBatch(m as Buffer).length));
    const end = closed(ws);
    const toTun = batch(Array.from({ length: 20 }, (_, i) => ipv4Udp(PEER, LOCAL, 1000 + i, 9, Buffer.alloc(1000))));
    const sending = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 1 << 20) ws.send(toTun);
    }, 1);
    t.after(() => clearInterval(sending));
    const f = flood(1200);
    t.after(() => f.stop());
    await until('packets out of the stream', () => received > 100);

    const res = await daemon.call('DELETE', `/interfaces/${IFACE}`);
    assert.equal(res.status, 204);
    assert.equal(link(IFACE), undefined, 'the TUN is gone as DELETE answers: no copy of its fd outlives the stream');
    const { code, reason } = await end;
    clearInterval(sending);
    f.stop();
    assert.equal(code, 1001);
    assert.equal(reason, 'the interface was removed');
    const closedLine = await until('the close log line', () => logLines(daemon).find((l) => l.msg === 'packet stream closed'));
    t.diagnostic(`moved ${JSON.stringify(closedLine.moved)}`);
    assert.ok(closedLine.moved.toClient > 0 && closedLine.moved.fromClient > 0, 'packets moved both ways until the end');
    assert.equal(closedLine.why, 'the interface was removed');

    // The daemon goes on: a new interface takes a new stream.
    assert.equal((await daemon.call('POST', '/interfaces', { name: IFACE })).status, 201);
    const next = await connect(url, FRAMING_PACKET, { headers: { authorization: `Bearer ${token}` } });
    t.after(() => next.ws.terminate());
    assert.equal((await daemon.call('GET', '/health', undefined, '')).status, 200);
  });

  test('over TLS the stream stays on the API thread and behaves the same', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-tls-stream-'));
    const { cert, key } = selfSignedCert(dir);
    const port = await freePort();
    const daemon = spawnDaemon({ VPNSVC_LISTEN: `127.0.0.1:${port}`, VPNSVC_TLS_CERT: cert, VPNSVC_TLS_KEY: key }, dir);
    t.after(() => daemon.stop());
    await until('the daemon to listen', () => /"msg":"Server listening/.test(daemon.output()), 15_000);
    const ca = readFileSync(cert);
    const token = daemon.token();
    const call = (method: string, path: string, body?: unknown) => httpsCall({ port, ca, token }, method, path, body);
    assert.equal(await call('POST', '/interfaces', { name: IFACE }), 201);
    disableIpv6();
    assert.equal(await call('PATCH', `/interfaces/${IFACE}`, { localIp: LOCAL, remoteIp: PEER }), 200);
    assert.equal(await call('POST', `/interfaces/${IFACE}/apply`), 200);
    const rx = createSocket('udp4');
    t.after(() => rx.close());
    const received: Buffer[] = [];
    rx.on('message', (m) => received.push(m));
    await new Promise<void>((r) => rx.bind(0, LOCAL, () => r()));

    const { ws } = await connect(`wss://127.0.0.1:${port}/interfaces/${IFACE}/stream`, FRAMING_PACKET, {
      headers: { authorization: `Bearer ${token}` },
      ca,
    });
    t.after(() => ws.terminate());
    const attached = await until('the attach log line', () => logLines(daemon).find((l) => l.msg === 'packet stream attached'));
    assert.equal(attached.thread, 'main', 'a TLS connection cannot leave the thread that holds its TLS state');
    const got: Buffer[] = [];
    ws.on('message', (m) => got.push(m as Buffer));
    const sender = createSocket('udp4');
    t.after(() => sender.close());
    await until('the packet on the stream', () => {
      sender.send(Buffer.from('over tls'), 4600, PEER);
      return got.map(readIpv4Udp).find((u) => u?.dport === 4600);
    });
    ws.send(ipv4Udp(PEER, LOCAL, 5000, (rx.address() as AddressInfo).port, Buffer.from('from a tls stream')));
    await until('the datagram', () => received.find((m) => m.toString() === 'from a tls stream'));
    const end = closed(ws);
    assert.equal(await call('DELETE', `/interfaces/${IFACE}`), 204);
    assert.deepEqual(await end, { code: 1001, reason: 'the interface was removed' });
  });
});

/** A REST call over HTTPS, trusting `ca`; the status. */
function httpsCall(to: { port: number; ca: Buffer; token: string }, method: string, path: string, body?: unknown): Promise<number> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: to.port,
        method,
        path,
        ca: to.ca,
        headers: { authorization: `Bearer ${to.token}`, ...(payload && { 'content-type': 'application/json' }) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
