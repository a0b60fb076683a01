/**
 * GET /metrics: Prometheus text with the kernel's counters per interface (checked against
 * /proc/net/dev after real packets), stream drops by reason, request durations by route.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import type { Interface } from '../../../src/contract/api-types.js';
import { createMetrics } from '../../../src/http/plugins/metrics.js';
import { readLinkStats } from '../../../src/system/link-stats.js';
import { build, TOKENS } from '../../helpers/app.js';
import { ip, kernelTestOptions, link } from '../../helpers/kernel.js';

const auth = { authorization: `Bearer ${TOKENS.admin}` };

/** The value of one sample line, e.g. metric('x_total{interface="a"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics of a real interface', kernelTestOptions(), () => {
  after(() => {
    if (link('vsmet0')) ip('link', 'delete', 'vsmet0');
  });

  test("per-interface counters are the kernel's; request durations by route template and status", async (t) => {
    const { admin, request } = await build(t);
    const created = await admin.post('/interfaces').send({ name: 'vsmet0' }).expect(201);
    await admin.patch('/interfaces/vsmet0').send({ localIp: '10.72.0.1', remoteIp: '10.72.0.2', blocking: false }).expect(200);
    await admin.post('/interfaces/vsmet0/apply').expect(200);
    // Three datagrams to the peer go into the TUN; the kernel counts them as transmitted when
    // they are read from the fd (tun_put_user), so drain it as a VPN client would.
    const sock = createSocket('udp4');
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => sock.send(Buffer.alloc(20), 9, '10.72.0.2', () => r()));
    sock.close();
    let read = 0;
    for (;;) {
      try {
        readSync(created.body.fd, Buffer.alloc(2048));
        read++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
    }
    assert.ok(read >= 3, `read ${read} packets from the TUN`);
    await admin.get('/interfaces/nope').expect(404);
    await admin.get('/interfaces/nope').expect(404);

    const res = await request.get('/metrics').set(auth);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const kernel = readLinkStats('vsmet0')!;
    assert.ok(kernel.txPackets >= 3);
    assert.equal(sample(res.text, 'vpnsvc_interface_tx_packets_total{interface="vsmet0"}'), kernel.txPackets);
    assert.equal(sample(res.text, 'vpnsvc_interface_tx_bytes_total{interface="vsmet0"}'), kernel.txBytes);
    assert.equal(sample(res.text, 'vpnsvc_interface_rx_packets_total{interface="vsmet0"}'), kernel.rxPackets);
    assert.equal(
      sample(res.text, 'vpnsvc_http_request_duration_seconds_count{method="GET",route="/interfaces/:name",status_code="404"}'),
      2,
    );
    assert.equal(sample(res.text, 'vpnsvc_http_request_duration_seconds_count{method="POST",route="/interfaces",status_code="201"}'), 1);
    assert.equal(sample(res.text, 'vpnsvc_events_total{type="settings.applied"}'), 1);
    assert.equal(sample(res.text, 'vpnsvc_events_total{type="interface.created"}'), 1);
    assert.match(res.text, /^vpnsvc_process_resident_memory_bytes \d+/m);
  });
});

test("the data plane's drop counters become vpnsvc_stream_dropped_packets_total by reason", async () => {
  const iface = {
    name: 'vpn0',
    counters: {
      rxPackets: 1,
      rxBytes: 2,
      txPackets: 3,
      txBytes: 4,
      rxDropped: 5,
      txDropped: 6,
      streamDroppedSlowConsumer: 7,
      droppedBadFrames: 8,
      framesIn: 9,
    },
  } as unknown as Interface;
  const { registry } = createMetrics({ interfaces: () => [iface], eventFollowers: () => 0 });
  const text = await registry.metrics();
  assert.equal(sample(text, 'vpnsvc_stream_dropped_packets_total{interface="vpn0",reason="streamDroppedSlowConsumer"}'), 7);
  assert.equal(sample(text, 'vpnsvc_stream_dropped_packets_total{interface="vpn0",reason="droppedBadFrames"}'), 8);
  assert.equal(sample(text, 'vpnsvc_interface_rx_dropped_total{interface="vpn0"}'), 5);
  assert.doesNotMatch(text, /reason="(rxDropped|framesIn)"/);
});

test('/metrics needs a token; unknown paths share one route label', async (t) => {
  const { request } = await build(t);
  assert.equal((await request.get('/metrics')).status, 401);
  await request.get('/no/such/path/1').set(auth).expect(404);
  await request.get('/no/such/path/2').set(auth).expect(404);
  const text = (await request.get('/metrics').set(auth)).text;
  assert.equal(sample(text, 'vpnsvc_http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"}'), 2);
});
