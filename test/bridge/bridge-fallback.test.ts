/**
 * `vpnsvc bridge --framing gso` against a server that knows only the batch framing: the bridge
 * offers gso first, takes batch, and keeps its TUN in offload mode, whose packets then reach the
 * server as plain packets (the virtio_net_hdr stripped, checksums complete).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { projectRoot } from '../../src/config/project-root.js';
import { FRAMING_BATCH, FRAMING_GSO } from '../../src/dataplane/framing.js';
import { kernelTestOptions } from '../helpers/kernel.js';
import { startNode, stopProcess } from '../helpers/node-process.js';
import { batch, ipv4UdpChecksummed, splitBatch } from '../helpers/packets.js';

const TUN = 'vsbf0';
const LOCAL = '10.73.0.2';
const PEER = '10.73.0.1';

describe('vpnsvc bridge --framing gso falls back', kernelTestOptions(), () => {
  test('to batch when the server does not offer gso; its offload TUN still speaks plain packets', async (t) => {
    let offered: string[] = [];
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) => {
        offered = [...protocols];
        return protocols.has(FRAMING_BATCH) ? FRAMING_BATCH : false;
      },
    });
    t.after(() => wss.close());
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const port = (wss.address() as AddressInfo).port;
    const connected = new Promise<import('ws').WebSocket>((r) => wss.once('connection', (ws) => r(ws)));

    const bridge = await startNode(
      undefined,
      [
        '--import',
        'tsx',
        join(projectRoot(), 'src/cli/main.ts'),
        'bridge',
        '--url',
        `ws://127.0.0.1:${port}/interfaces/tun0/stream`,
        '--name',
        TUN,
        '--local',
        LOCAL,
        '--peer',
        PEER,
        '--framing',
        'gso',
      ],
      /bridge: up/,
      { VPNSVC_TOKEN: 'unused-by-this-server' },
    );
    t.after(() => stopProcess(bridge.child));
    assert.deepEqual(offered, [FRAMING_GSO, FRAMING_BATCH], 'gso first, batch as the fallback');
    assert.match(bridge.output(), /framing vpnsvc\.batch\.v1 \(TUN in offload mode\)/);

    // A datagram to a closed port of the bridge's end: its kernel answers with ICMP port
    // unreachable, which the offload TUN hands over behind a virtio_net_hdr.
    const ws = await connected;
    const reply = new Promise<Buffer>((resolve) =>
      ws.on('message', (m: Buffer) => {
        const icmp = splitBatch(m).find((p) => p[9] === 1 && p[20] === 3);
        if (icmp) resolve(icmp);
      }),
    );
    ws.send(batch([ipv4UdpChecksummed(PEER, LOCAL, 5000, 9, Buffer.from('anyone there?'))]));
    const icmp = await reply;
    assert.equal(icmp[0], 0x45, 'a plain IPv4 packet, no virtio_net_hdr in front');
    assert.equal([...icmp.subarray(12, 16)].join('.'), LOCAL);
    assert.equal(icmp.readUInt16BE(2), icmp.length, 'its length field matches the batch record');
  });
});
