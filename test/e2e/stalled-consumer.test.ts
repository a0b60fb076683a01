/**
 * A stream client that stops reading while a flood goes into the tunnel: the real daemon's
 * memory stays flat, the packets it cannot deliver are dropped and counted, and it keeps
 * answering.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { spawnDaemon, waitReady } from '../helpers/daemon.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const IFACE = 'vss0';
const LOCAL = '10.75.0.1';
const PEER = '10.75.0.2';
const FLOOD_MS = 3000;
const FLOOD_MAX_PACKETS = 2_000_000;
/** Allowed growth over the daemon's settled RSS: the 4 MiB high-water mark, slabs, GC slack. */
const RSS_GROWTH_LIMIT_MB = 48;

const rssMB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

// Big packets in batches, and tiny packets one per message (the most objects per queued byte).
const CASES = [
  { framing: 'vpnsvc.batch.v1', payload: 1400 },
  { framing: 'vpnsvc.gso.v1', payload: 1400 },
  { framing: 'vpnsvc.packet.v1', payload: 64 },
];

describe('a stalled stream consumer', kernelTestOptions(), () => {
  for (const { framing, payload: payloadBytes } of CASES) {
    test(`${framing}, ${payloadBytes}-byte datagrams: daemon memory stays flat, drops are counted, the API still answers`, async (t) => {
      const daemon = spawnDaemon();
      t.after(() => daemon.stop());
      await waitReady(daemon);
      assert.equal((await daemon.call('POST', '/interfaces', { name: IFACE })).status, 201);
      const ipv6 = `/proc/sys/net/ipv6/conf/${IFACE}/disable_ipv6`;
      if (existsSync(ipv6)) writeFileSync(ipv6, '1');
      assert.equal((await daemon.call('PATCH', `/interfaces/${IFACE}`, { localIp: LOCAL, remoteIp: PEER })).status, 200);
      assert.equal((await daemon.call('POST', `/interfaces/${IFACE}/apply`)).status, 200);

      // The client upgrades, then never reads again: its TCP window fills, then the daemon's queue.
      const ws = new WebSocket(`ws+unix://${daemon.socket}:/interfaces/${IFACE}/stream`, [framing], {
        headers: { authorization: `Bearer ${daemon.token()}` },
      });
      let tcp: Socket | undefined;
      ws.on('upgrade', (res) => {
        tcp = res.socket as Socket;
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      tcp?.pause();
      t.after(() => ws.terminate());
      const attachedLine = () =>
        daemon
          .output()
          .split('\n')
          .find((l) => l.includes('"packet stream attached"'));
      for (let i = 0; i < 100 && !attachedLine(); i++) await sleep(20);
      assert.equal(JSON.parse(attachedLine() ?? '{}').thread, 'worker', "the stream runs in its worker thread, off the API's");

      const pid = daemon.child.pid as number;
      await sleep(300);
      const settled = rssMB(pid);

      const flood = createSocket('udp4');
      const payload = Buffer.alloc(payloadBytes, 0x5a);
      const samples: number[] = [];
      let sent = 0;
      const until = Date.now() + FLOOD_MS;
      let nextSample = Date.now();
      while (Date.now() < until && sent < FLOOD_MAX_PACKETS) {
        for (let i = 0; i < 200; i++, sent++) flood.send(payload, 9, PEER);
        await new Promise((r) => setImmediate(r));
        if (Date.now() >= nextSample) {
          samples.push(rssMB(pid));
          nextSample = Date.now() + 250;
        }
      }
      flood.close();
      const health = await daemon.call('GET', '/health', undefined, '');
      assert.equal(health.status, 200, 'the daemon answers during and after the flood');
      samples.push(rssMB(pid));

      const peak = Math.max(...samples);
      t.diagnostic(
        `sent ${sent} datagrams; daemon RSS settled ${settled.toFixed(0)} MB, peak ${peak.toFixed(0)} MB; samples ${samples.map((s) => s.toFixed(0)).join(' ')}`,
      );
      assert.ok(peak - settled < RSS_GROWTH_LIMIT_MB, `RSS grew ${(peak - settled).toFixed(0)} MB under the flood`);

      const iface = await daemon.call('GET', `/interfaces/${IFACE}`);
      assert.equal(iface.status, 200);
      t.diagnostic(`counters ${JSON.stringify(iface.body.counters)}`);
      assert.ok(iface.body.counters.streamDropped > 0, 'packets the client could not take were dropped and counted');
      assert.equal(ws.readyState, WebSocket.OPEN, 'the slow client is not thrown out');
    });
  }
});
