/**
 * The data plane against the real kernel (inside the test namespace): packets the kernel routes
 * into the TUN come out of GET /packet and the stream; packets written by REST or the stream
 * reach a real UDP socket.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { type Built, build, TOKENS } from '../../helpers/app.js';
import { assertContract } from '../../helpers/contract.js';
import { ip, ipJson, kernelTestOptions, link } from '../../helpers/kernel.js';
import { batch, ipv4Udp, readIpv4Udp, splitBatch } from '../../helpers/packets.js';
import { udpReceiver } from '../../helpers/udp.js';
import { until } from '../../helpers/wait.js';

const IFACE = 'vsp0';
const LOCAL = '10.93.0.1';
const PEER = '10.93.0.2';
const AUTH = { authorization: `Bearer ${TOKENS.admin}` };

async function tunnel(t: TestContext): Promise<Built> {
  const built = await build(t);
  await built.admin.post('/interfaces').send({ name: IFACE }).expect(201);
  // IPv6 would have the kernel send router solicitations into the TUN at random moments.
  const ipv6 = `/proc/sys/net/ipv6/conf/${IFACE}/disable_ipv6`;
  if (existsSync(ipv6)) writeFileSync(ipv6, '1');
  await built.admin.patch(`/interfaces/${IFACE}`).send({ localIp: LOCAL, remoteIp: PEER }).expect(200);
  await built.admin.post(`/interfaces/${IFACE}/apply`).expect(200);
  return built;
}

let sender: Socket | undefined;
/** Sends a datagram to the peer: the kernel routes it into the TUN. */
function sendToPeer(payload: Buffer, port = 9): Promise<void> {
  sender ??= createSocket('udp4');
  return new Promise((r, j) => sender?.send(payload, port, PEER, (e) => (e ? j(e) : r())));
}

/** Binary GET: supertest collects the octet-stream body as a Buffer. */
function getPacket(built: Built, query = '') {
  return built.admin
    .get(`/interfaces/${IFACE}/packet${query}`)
    .buffer(true)
    .parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
}

async function listen(built: Built): Promise<number> {
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  return (built.app.server.address() as AddressInfo).port;
}

function connect(port: number, protocols: string[] = []): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/interfaces/${IFACE}/stream`, protocols, { headers: AUTH });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** The HTTP status and body a refused upgrade got. */
function refusedUpgrade(
  port: number,
  protocols: string[] = [],
  path = `/interfaces/${IFACE}/stream`,
): Promise<{ status: number; body: any }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols, { headers: AUTH });
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', () => undefined);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
}

describe('packets on the kernel', kernelTestOptions(), () => {
  after(() => {
    sender?.close();
    if (link(IFACE)) ip('link', 'delete', IFACE);
  });

  test('GET /packet returns the IP packet the kernel routed into the TUN', async (t) => {
    const built = await tunnel(t);
    const payload = Buffer.from('read me through vpnsvc_read');
    await sendToPeer(payload, 4242);
    let udp: ReturnType<typeof readIpv4Udp>;
    for (let i = 0; i < 5 && !udp; i++) {
      const res = await getPacket(built, '?timeoutMs=2000');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      udp = readIpv4Udp(res.body as Buffer);
    }
    assert.ok(udp, 'an IPv4/UDP packet came out');
    assert.equal(udp.src, LOCAL);
    assert.equal(udp.dst, PEER);
    assert.equal(udp.dport, 4242);
    assert.deepEqual(udp.payload, payload);
  });

  test('GET /packet times out with 504 VPNSVC_ERROR_TIMEOUT; non-blocking does not wait', async (t) => {
    const built = await tunnel(t);
    const start = Date.now();
    const res = await built.admin.get(`/interfaces/${IFACE}/packet?timeoutMs=200`);
    assert.equal(res.status, 504);
    assertContract('readPacket', res);
    assert.equal(res.body.error, 'VPNSVC_ERROR_TIMEOUT');
    assert.ok(Date.now() - start >= 190, 'it waited for the timeout');

    await built.admin.patch(`/interfaces/${IFACE}`).send({ blocking: false }).expect(200);
    const quick = Date.now();
    const now = await built.admin.get(`/interfaces/${IFACE}/packet`);
    assert.equal(now.status, 504);
    assert.ok(Date.now() - quick < 150, 'without timeoutMs a non-blocking interface answers at once');

    const bad = await built.admin.get(`/interfaces/${IFACE}/packet?timeoutMs=-1`);
    assert.equal(bad.status, 400);
    assert.equal((await built.admin.get('/interfaces/nosuch0/packet?timeoutMs=0')).status, 404);
  });

  test('a waiting GET /packet is woken by the packet (readiness, not polling)', async (t) => {
    const built = await tunnel(t);
    const pending = getPacket(built, '?timeoutMs=5000');
    await sleep(150);
    const payload = Buffer.from('late packet');
    await sendToPeer(payload, 4343);
    const res = await pending;
    assert.equal(res.status, 200);
    const udp = readIpv4Udp(res.body as Buffer);
    assert.deepEqual(udp?.payload, payload);
  });

  test('POST /packets writes one packet that a UDP socket on the local address receives', async (t) => {
    const built = await tunnel(t);
    const rx = await udpReceiver(t, LOCAL);
    const payload = Buffer.from('written by vpnsvc_write');
    const res = await built.admin
      .post(`/interfaces/${IFACE}/packets`)
      .set('content-type', 'application/octet-stream')
      .send(ipv4Udp(PEER, LOCAL, 5000, rx.port, payload));
    assert.equal(res.status, 200);
    assertContract('writePacket', res);
    assert.equal(res.body.bytes, 28 + payload.length);
    await until('the datagram', () => rx.received.length > 0);
    assert.deepEqual(rx.received[0], payload);
  });

  test('POST /packets refuses what is not an IP packet and counts it', async (t) => {
    const built = await tunnel(t);
    const res = await built.admin
      .post(`/interfaces/${IFACE}/packets`)
      .set('content-type', 'application/octet-stream')
      .send(Buffer.from('this is not an IP packet at all'));
    assert.equal(res.status, 500);
    assertContract('writePacket', res);
    assert.match(res.body.message, /EINVAL/);
    const empty = await built.admin
      .post(`/interfaces/${IFACE}/packets`)
      .set('content-type', 'application/octet-stream')
      .send(Buffer.alloc(0));
    assert.equal(empty.status, 400);
    const iface = await built.admin.get(`/interfaces/${IFACE}`).expect(200);
    assertContract('getInterface', iface);
    assert.equal(iface.body.counters.writeDropped, 1);
  });

  test('the stream, packet framing: one packet per message, both ways', async (t) => {
    const built = await tunnel(t);
    const port = await listen(built);
    const rx = await udpReceiver(t, LOCAL);
    const ws = await connect(port);
    t.after(() => ws.terminate());
    assert.equal(ws.protocol, '', 'the default framing needs no sub-protocol');
    const qlen = ipJson<Array<{ txqlen: number }>>('link', 'show', IFACE)[0]?.txqlen ?? 0;
    assert.ok(qlen >= 2000, `a stream raises the kernel's queue for the TUN (txqlen ${qlen})`);
    const got: Buffer[] = [];
    ws.on('message', (m) => got.push(m as Buffer));

    const payload = Buffer.from('to the stream');
    await sendToPeer(payload, 4444);
    await until('the packet on the stream', () => got.some((p) => readIpv4Udp(p)?.dport === 4444));
    assert.deepEqual(got.map(readIpv4Udp).find((u) => u?.dport === 4444)?.payload, payload);

    ws.send(ipv4Udp(PEER, LOCAL, 5001, rx.port, Buffer.from('from the stream')));
    await until('the datagram', () => rx.received.length > 0);
    assert.equal(rx.received[0]?.toString(), 'from the stream');
  });

  test('the stream, batch framing: length-prefixed packets, several per message', async (t) => {
    const built = await tunnel(t);
    const port = await listen(built);
    const rx = await udpReceiver(t, LOCAL);
    const ws = await connect(port, ['vpnsvc.batch.v1']);
    t.after(() => ws.terminate());
    assert.equal(ws.protocol, 'vpnsvc.batch.v1');
    const got: Buffer[] = [];
    ws.on('message', (m) => got.push(...splitBatch(m as Buffer)));

    for (let i = 0; i < 20; i++) await sendToPeer(Buffer.from(`batch ${i}`), 4500 + i);
    await until('20 packets', () => got.filter((p) => readIpv4Udp(p)?.dst === PEER).length >= 20);
    const ports = got
      .map(readIpv4Udp)
      .filter((u) => u?.dst === PEER)
      .map((u) => u?.dport);
    assert.deepEqual(
      ports,
      Array.from({ length: 20 }, (_, i) => 4500 + i),
      'in order, none lost',
    );

    // Two packets and a non-IP one in one message: the two arrive, the other is counted.
    ws.send(
      batch([
        ipv4Udp(PEER, LOCAL, 1, rx.port, Buffer.from('one')),
        Buffer.from('junk junk junk junk junk'),
        ipv4Udp(PEER, LOCAL, 1, rx.port, Buffer.from('two')),
      ]),
    );
    await until('two datagrams', () => rx.received.length >= 2);
    assert.deepEqual(rx.received.map(String), ['one', 'two']);
    // A frame whose length overruns the message.
    ws.send(Buffer.from([0x05, 0xdc, 0x45, 0x00]));
    await until('the counters', () => false, 200).catch(() => undefined);
    const counters = (await built.admin.get(`/interfaces/${IFACE}`).expect(200)).body.counters;
    assert.equal(counters.writeDropped, 1);
    assert.equal(counters.framesRejected, 1);
    assert.equal(ws.readyState, WebSocket.OPEN, 'bad packets are dropped, the stream stays');
  });

  test('one stream per interface: a second client gets 500 EBUSY before the upgrade, REST reads too', async (t) => {
    const built = await tunnel(t);
    const port = await listen(built);
    const first = await connect(port);
    t.after(() => first.terminate());
    const second = await refusedUpgrade(port);
    assert.equal(second.status, 500);
    assert.equal(second.body.error, 'VPNSVC_ERROR_IO_ERROR');
    assert.match(second.body.message, /EBUSY/);
    const read = await built.admin.get(`/interfaces/${IFACE}/packet?timeoutMs=0`);
    assert.equal(read.status, 500);
    assert.match(read.body.message, /EBUSY/);
    assert.equal(first.readyState, WebSocket.OPEN, 'the holder keeps its stream');

    // When the holder leaves, the next client gets the stream.
    first.close();
    await closed(first);
    await sleep(50);
    const next = await connect(port);
    next.terminate();
  });

  test('the stream refuses bad upgrades, text frames, and ends when the interface goes', async (t) => {
    const built = await tunnel(t);
    const port = await listen(built);
    assert.equal((await refusedUpgrade(port, ['chat'])).status, 400, 'only unknown sub-protocols');
    assert.equal((await refusedUpgrade(port, [], '/interfaces/nosuch0/stream')).status, 404);
    const plain = await built.admin.get(`/interfaces/${IFACE}/stream`);
    assert.equal(plain.status, 400, 'a plain GET is told to upgrade');
    const anonymous = new WebSocket(`ws://127.0.0.1:${port}/interfaces/${IFACE}/stream`);
    const status = await new Promise<number>((r) => anonymous.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)));
    assert.equal(status, 401);
    const unprivileged = new WebSocket(`ws://127.0.0.1:${port}/interfaces/${IFACE}/stream`, {
      headers: { authorization: `Bearer ${TOKENS.vpnservice}` },
    });
    const denied = await new Promise<number>((r) => unprivileged.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)));
    assert.equal(denied, 403, 'the stream needs the privileges of init (vpnservice and internet)');
    const restDenied = await built.request
      .get(`/interfaces/${IFACE}/packet?timeoutMs=0`)
      .set('authorization', `Bearer ${TOKENS.vpnservice}`);
    assert.equal(restDenied.status, 403);

    const texting = await connect(port);
    const textClosed = closed(texting);
    texting.send('hello');
    assert.equal((await textClosed).code, 1003);

    await sleep(50);
    const oversize = await connect(port);
    const oversizeClosed = closed(oversize);
    oversize.send(Buffer.alloc(70_000, 0x45)); // no IP packet is longer than 65535 bytes
    assert.equal((await oversizeClosed).code, 1009);
    const counters = (await built.admin.get(`/interfaces/${IFACE}`).expect(200)).body.counters;
    assert.equal(counters.framesRejected, 2, 'the text and the oversize frame');

    await sleep(50);
    const ws = await connect(port);
    const end = closed(ws);
    await built.admin.delete(`/interfaces/${IFACE}`).expect(204);
    assert.equal((await end).code, 1001);
  });

  test('a TUN deleted behind the daemon ends its stream instead of spinning', async (t) => {
    const built = await tunnel(t);
    const port = await listen(built);
    const ws = await connect(port);
    const end = closed(ws);
    ip('link', 'delete', IFACE);
    const { code, reason } = await end;
    assert.equal(code, 1001);
    assert.match(reason, /reading the TUN failed/);
    assert.equal((await built.admin.get(`/interfaces/${IFACE}`)).status, 404);
  });
});

describe('POST /packets checks the IP header against the body', kernelTestOptions(), () => {
  test('"hello" and a packet longer than its header says are 400, not written', async (t) => {
    const built = await tunnel(t);
    const counters = async () => (await built.admin.get(`/interfaces/${IFACE}`).expect(200)).body.counters;
    const before = await counters();
    const post = (body: Buffer) =>
      built.admin.post(`/interfaces/${IFACE}/packets`).set('content-type', 'application/octet-stream').send(body);
    const hello = await post(Buffer.from('hello'));
    assert.equal(hello.status, 400);
    assertContract('writePacket', hello);
    assert.match(hello.body.message, /not an IPv6 packet/);
    const padded = await post(Buffer.concat([ipv4Udp('10.9.0.2', '10.9.0.1', 4000, 5000, Buffer.from('x')), Buffer.alloc(3)]));
    assert.equal(padded.status, 400);
    assert.match(padded.body.message, /the IPv4 header says 29 bytes/);
    const after = await counters();
    assert.equal(after.writeDropped, before.writeDropped, 'refused before the TUN');
    assert.equal(after.rxPackets, before.rxPackets, 'nothing reached the TUN');
  });
});
