/**
 * 200 event followers (SSE and WebSocket) that send their request and never read, while events
 * flood through the real daemon: it stays alive past its keepalive ticks, keeps answering the
 * admin, drops and counts every stalled follower, and its memory stays bounded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Daemon, spawnDaemon, waitReady } from '../helpers/daemon.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const IFACE = 'vssf0';
const FOLLOWERS = 200;
const FLOOD_REQUESTS = 300;
const KEEPALIVE_MS = 100;
/** Each change event carries every search domain: 31 of 250 characters make it about 8 KB. */
const DOMAINS = Array.from({ length: 31 }, (_, i) => `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.d${i}.${'e'.repeat(60)}`);
const FLOOD_DOMAIN = 'flood.example';

const rssMB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

/** GET over the daemon's socket, the body as text (GET /metrics is not JSON). */
function getText(daemon: Daemon, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: daemon.socket, path, headers: { authorization: `Bearer ${daemon.token()}` } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** A raw client: sends the request, then never reads (its socket stays paused). */
function stalledFollower(daemon: Daemon, kind: 'sse' | 'websocket'): Promise<Socket> {
  const headers =
    kind === 'sse'
      ? 'Accept: text/event-stream\r\n'
      : `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect({ path: daemon.socket }, () => {
      socket.pause();
      socket.write(`GET /events HTTP/1.1\r\nHost: vpnsvc\r\nAuthorization: Bearer ${daemon.token()}\r\n${headers}\r\n`);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('stalled event followers', kernelTestOptions(), () => {
  test(`${FOLLOWERS} followers that never read: the daemon survives, answers, drops them, memory bounded`, async (t) => {
    const daemon = spawnDaemon({
      VPNSVC_MAX_FOLLOWERS: String(FOLLOWERS * 2),
      VPNSVC_MAX_FOLLOWERS_PER_TOKEN: String(FOLLOWERS * 2),
      VPNSVC_SSE_KEEPALIVE_MS: String(KEEPALIVE_MS),
    });
    const sockets: Socket[] = [];
    t.after(async () => {
      for (const s of sockets) s.destroy();
      await daemon.stop();
    });
    await waitReady(daemon);
    const pid = daemon.child.pid as number;
    assert.equal((await daemon.call('POST', '/interfaces', { name: IFACE })).status, 201);
    assert.equal((await daemon.call('PATCH', `/interfaces/${IFACE}`, { localIp: '10.76.0.1', remoteIp: '10.76.0.2' })).status, 200);
    assert.equal((await daemon.call('POST', `/interfaces/${IFACE}/apply`)).status, 200);
    for (const domain of DOMAINS) assert.equal((await daemon.call('POST', '/dns/domains', { domain })).status, 201);
    await sleep(300);
    const baseline = rssMB(pid);

    for (let i = 0; i < FOLLOWERS; i++) sockets.push(await stalledFollower(daemon, i % 2 === 0 ? 'sse' : 'websocket'));
    const deadline = Date.now() + 10_000;
    while (metric((await getText(daemon, '/metrics')).text, 'vpnsvc_event_followers') < FOLLOWERS) {
      assert.ok(Date.now() < deadline, 'every follower was admitted');
      await sleep(50);
    }

    const samples: number[] = [rssMB(pid)];
    for (let i = 0; i < FLOOD_REQUESTS; i++) {
      const res =
        i % 2 === 0
          ? await daemon.call('POST', '/dns/domains', { domain: FLOOD_DOMAIN })
          : await daemon.call('DELETE', `/dns/domains/${FLOOD_DOMAIN}`);
      assert.equal(res.status, i % 2 === 0 ? 201 : 204, `flood request ${i}`);
      if (i % 10 === 0) samples.push(rssMB(pid));
    }
    // Several keepalive ticks after the drops: a write to an ended stream would kill the daemon here.
    for (let i = 0; i < 10; i++) {
      await sleep(KEEPALIVE_MS);
      samples.push(rssMB(pid));
    }
    assert.equal(daemon.child.exitCode, null, `the daemon is alive:\n${daemon.output().slice(-2000)}`);
    assert.equal((await daemon.call('GET', `/interfaces/${IFACE}`)).status, 200, 'the admin is still served');

    const metrics = (await getText(daemon, '/metrics')).text;
    const dropped = {
      sse: metric(metrics, 'vpnsvc_event_followers_dropped_total{transport="sse"}'),
      websocket: metric(metrics, 'vpnsvc_event_followers_dropped_total{transport="websocket"}'),
    };
    // Resumed, each client reads what the kernel held for it, then the end of its connection.
    const ended = sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
    for (const s of sockets) {
      s.on('data', () => undefined);
      s.resume();
    }
    const allEnded = await Promise.race([Promise.all(ended).then(() => true), sleep(10_000).then(() => false)]);
    await sleep(200);
    const after = rssMB(pid);
    const peak = Math.max(...samples);
    t.diagnostic(
      `RSS baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, after ${after.toFixed(0)} MB; dropped sse ${dropped.sse}, websocket ${dropped.websocket}`,
    );
    assert.deepEqual(dropped, { sse: FOLLOWERS / 2, websocket: FOLLOWERS / 2 }, 'every stalled follower was dropped and counted');
    assert.equal(metric((await getText(daemon, '/metrics')).text, 'vpnsvc_event_followers'), 0, 'no follower is left');
    assert.ok(allEnded, 'every dropped follower saw its connection end');
    assert.ok(peak < baseline * 2, `RSS peak ${peak.toFixed(0)} MB is under twice the baseline ${baseline.toFixed(0)} MB`);
    assert.equal(daemon.child.exitCode, null, 'the daemon is still alive');
  });
});
