/**
 * Offload mode and the gso framing against the real kernel (inside the test namespace): what an
 * interface in offload mode reports and refuses, REST reads of super-packets cut into plain
 * packets with valid checksums, and a gso-framing client whose records are written as they
 * should be: complete checksums delivered, damaged ones caught by the kernel even when the
 * client claims them verified, UDP super-packets segmented, on a plain TUN and in offload mode.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { FRAMING_GSO } from '../../src/dataplane/framing.js';
import type { VpnsvcError } from '../../src/errors/errors.js';
import { type Built, build, TOKENS } from '../helpers/app.js';
import { kernelTestOptions } from '../helpers/kernel.js';
import {
  gsoRecord,
  ipv4UdpChecksummed,
  ipv4UdpChecksumsValid,
  readIpv4Udp,
  splitGso,
  udpSuperPacket,
  VNET_F_DATA_VALID,
} from '../helpers/packets.js';
import { udpReceiver } from '../helpers/udp.js';
import { until } from '../helpers/wait.js';

const IFACE = 'vso0';
const LOCAL = '10.74.0.1';
const PEER = '10.74.0.2';
const run = promisify(execFile);

async function tunnel(t: TestContext, offload: boolean, env: Record<string, string> = {}): Promise<Built> {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-offload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 192.0.2.53\n');
  const built = await build(t, { env: { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: join(dir, 'resolv.conf'), ...env } });
  const created = await built.admin.post('/interfaces').send({ name: IFACE, offload }).expect(201);
  assert.equal(created.body.offload.enabled, offload);
  writeFileSync(`/proc/sys/net/ipv6/conf/${IFACE}/disable_ipv6`, '1');
  await built.admin.patch(`/interfaces/${IFACE}`).send({ localIp: LOCAL, remoteIp: PEER }).expect(200);
  await built.admin.post(`/interfaces/${IFACE}/apply`).expect(200);
  return built;
}

/** The kernel's count of UDP datagrams dropped for a bad checksum, in this namespace. */
function udpChecksumErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp: '));
  const names = (lines[0] as string).split(' ');
  const values = (lines[1] as string).split(' ');
  return Number(values[names.indexOf('InCsumErrors')]);
}

const kernelAtLeast = (major: number, minor: number): boolean => {
  const [a, b] = readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number) as [number, number];
  return a > major || (a === major && b >= minor);
};

describe('offload mode and the gso framing on the kernel', kernelTestOptions(), () => {
  test('an interface in offload mode reports its offloads and does not hand out its fd', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-fdch-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const built = await tunnel(t, true, { VPNSVC_FD_CHANNEL: join(dir, 'fd.sock') });
    const { offload } = (await built.admin.get(`/interfaces/${IFACE}`).expect(200)).body;
    for (const f of ['csum', 'tso4', 'tso6']) assert.ok(offload.features.includes(f), `${f} is on`);
    if (kernelAtLeast(6, 2)) assert.ok(offload.features.includes('uso4'), 'UDP segmentation, which this kernel has');
    // What the kernel has in force on the device, asked of the kernel.
    const { stdout } = await run('ethtool', ['--json', '-k', IFACE]);
    const kernel = (JSON.parse(stdout) as Record<string, { active: boolean }>[])[0] as Record<string, { active: boolean }>;
    for (const f of ['tx-checksumming', 'tx-tcp-segmentation', 'tx-tcp6-segmentation'])
      assert.equal(kernel[f]?.active, true, `the kernel has ${f} on`);
    if (offload.features.includes('uso4')) assert.equal(kernel['tx-udp-segmentation']?.active, true);
    assert.throws(
      () => built.vpnsvc.issueFdTicket({ purpose: 'tun-fd', interface: IFACE }, { pid: process.pid, uid: 0 }),
      (err: VpnsvcError) => err.kind === 'VPNSVC_ERROR_NOT_SUPPORTED' && /offload mode/.test(err.message),
    );
  });

  test('REST in offload mode: writes are plain packets; a UDP super-packet is read back cut, with valid checksums', async (t) => {
    const built = await tunnel(t, true);
    const rx = await udpReceiver(t, LOCAL);
    const written = ipv4UdpChecksummed(PEER, LOCAL, 4000, rx.port, Buffer.from('plain packet through REST'));
    await built.admin.post(`/interfaces/${IFACE}/packets`).set('content-type', 'application/octet-stream').send(written).expect(200);
    await until('the written datagram', () => rx.received.length === 1);
    assert.equal(rx.received[0]?.toString(), 'plain packet through REST');

    // One send of 3000 bytes with UDP_SEGMENT 1000: the kernel hands the TUN one super-packet
    // (or three packets on a kernel without UDP segmentation offload).
    const { body: before } = await built.admin.get(`/interfaces/${IFACE}`).expect(200);
    const payload = Buffer.alloc(3000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    await run('python3', [
      '-c',
      `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('${LOCAL}',0))\ns.setsockopt(socket.SOL_UDP,103,1000)\ns.sendto(bytes(i%251 for i in range(3000)),('${PEER}',4243))`,
    ]);
    const got: Buffer[] = [];
    while (got.length < 3) {
      const res = await built.admin
        .get(`/interfaces/${IFACE}/packet?timeoutMs=2000`)
        .buffer(true)
        .parse((r, cb) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => cb(null, Buffer.concat(chunks)));
        })
        .expect(200);
      const udp = readIpv4Udp(res.body as Buffer);
      if (udp?.dport !== 4243) continue;
      assert.ok(ipv4UdpChecksumsValid(res.body as Buffer), `segment ${got.length} has valid checksums`);
      got.push(udp.payload);
    }
    assert.deepEqual(
      got.map((p) => p.length),
      [1000, 1000, 1000],
    );
    assert.deepEqual(Buffer.concat(got), payload, 'the segments carry the payload in order');
    if (before.offload.features.includes('uso4')) {
      const { body: after } = await built.admin.get(`/interfaces/${IFACE}`).expect(200);
      assert.equal(
        after.counters.txPackets - before.counters.txPackets,
        1,
        'the kernel handed over one super-packet, which the daemon cut',
      );
    }
  });

  for (const offload of [false, true]) {
    test(`gso framing, TUN ${offload ? 'in offload mode' : 'plain'}: damaged checksums are caught, super-packets segmented, reads carry headers`, async (t) => {
      const built = await tunnel(t, offload);
      await built.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (built.app.server.address() as AddressInfo).port;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/interfaces/${IFACE}/stream`, [FRAMING_GSO, 'vpnsvc.batch.v1'], {
        headers: { authorization: `Bearer ${TOKENS.admin}` },
      });
      const messages: Buffer[] = [];
      ws.on('message', (m) => messages.push(m as Buffer));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      t.after(() => ws.terminate());
      assert.equal(ws.protocol, FRAMING_GSO, 'the daemon picks the first framing offered that it knows');

      const rx = await udpReceiver(t, LOCAL);
      const errorsBefore = udpChecksumErrors();
      const damaged = ipv4UdpChecksummed(PEER, LOCAL, 4001, rx.port, Buffer.from('damaged in transit'));
      damaged.writeUInt8((damaged.at(-1) as number) ^ 0x01, damaged.length - 1);
      const alsoDamaged = Buffer.from(damaged);
      const payload = Buffer.alloc(300);
      for (let i = 0; i < payload.length; i++) payload[i] = i;
      const big = udpSuperPacket(PEER, LOCAL, 4002, rx.port, payload, 100);
      const marker = ipv4UdpChecksummed(PEER, LOCAL, 4003, rx.port, Buffer.from('marker'));
      ws.send(
        Buffer.concat([
          gsoRecord(damaged),
          gsoRecord(alsoDamaged, { flags: VNET_F_DATA_VALID }),
          gsoRecord(big.packet, big.header),
          gsoRecord(marker),
        ]),
      );
      await until('the marker datagram', () => rx.received.some((m) => m.toString() === 'marker'));
      assert.deepEqual(
        rx.received.map((m) => m.length),
        [100, 100, 100, 6],
        'the super-packet as three datagrams, then the marker; neither damaged one',
      );
      assert.deepEqual(Buffer.concat(rx.received.slice(0, 3)), payload);
      assert.equal(udpChecksumErrors() - errorsBefore, 2, 'the kernel caught both damaged datagrams');

      // Towards the client: a datagram the kernel routes into the TUN comes out as one record.
      const sender = createSocket('udp4');
      t.after(() => sender.close());
      await new Promise<void>((r) => sender.bind(0, LOCAL, () => r()));
      await new Promise<void>((r, j) => sender.send(Buffer.from('to the client'), 4444, PEER, (e) => (e ? j(e) : r())));
      await until('the record', () => messages.some((m) => splitGso(m).some((r) => readIpv4Udp(r.packet)?.dport === 4444)));
      const record = messages.flatMap(splitGso).find((r) => readIpv4Udp(r.packet)?.dport === 4444) as ReturnType<typeof splitGso>[number];
      assert.equal(readIpv4Udp(record.packet)?.payload.toString(), 'to the client');
      assert.equal(record.header.length, 10);
      if (!offload) assert.deepEqual(record.header, Buffer.alloc(10), 'a plain TUN gives every packet an empty header');

      const counters = (await built.admin.get(`/interfaces/${IFACE}`).expect(200)).body.counters;
      assert.equal(counters.framesRejected, 0);
      assert.equal(counters.writeDropped, 0, 'the damaged datagrams were the kernel to judge, not dropped on the way');
    });
  }
});
