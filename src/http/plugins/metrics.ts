/**
 * Prometheus metrics (prom-client). Kernel and data-plane counters are read at scrape time, so
 * they are exactly what the engine reports; request durations are observed as requests end.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Interface } from '../../contract/api-types.js';

/** Seconds: an API call is a netlink round trip, an nft transaction, or a resolver write. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The kernel's counters of the Interface, by metric name. */
const KERNEL_COUNTERS = {
  rxPackets: ['vpnsvc_interface_rx_packets_total', 'Packets received by the VPN interface (kernel counter)'],
  rxBytes: ['vpnsvc_interface_rx_bytes_total', 'Bytes received by the VPN interface (kernel counter)'],
  rxDropped: ['vpnsvc_interface_rx_dropped_total', 'Packets the kernel dropped on receive'],
  txPackets: ['vpnsvc_interface_tx_packets_total', 'Packets sent by the VPN interface (kernel counter)'],
  txBytes: ['vpnsvc_interface_tx_bytes_total', 'Bytes sent by the VPN interface (kernel counter)'],
  txDropped: ['vpnsvc_interface_tx_dropped_total', 'Packets the kernel dropped on transmit'],
} as const;

export interface MetricsSources {
  interfaces(): Interface[];
  eventFollowers(): number;
}

export interface Metrics {
  registry: Registry;
  requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  eventsEmitted: Counter<'type'>;
  followersDropped: Counter<'transport'>;
}

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vpnsvc_' });
  const interfaces = () => {
    try {
      return sources.interfaces();
    } catch {
      // NOT_SUPPORTED host or a device that just vanished: no interface to report.
      return [];
    }
  };

  for (const [field, [name, help]] of Object.entries(KERNEL_COUNTERS)) {
    new Counter({
      name,
      help,
      labelNames: ['interface'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const i of interfaces()) this.inc({ interface: i.name }, Number((i.counters as Record<string, number>)[field] ?? 0));
      },
    });
  }
  // The data plane adds its own counters to the Interface's (streamDropped, writeDropped,
  // framesRejected, ...): each field named *drop* or *reject* becomes a `reason` label here.
  new Counter({
    name: 'vpnsvc_stream_dropped_packets_total',
    help: 'Packets dropped by the packet stream (slow consumer, bad frames, ...), by reason',
    labelNames: ['interface', 'reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const i of interfaces()) {
        for (const [field, value] of Object.entries(i.counters as Record<string, unknown>)) {
          if (field in KERNEL_COUNTERS || !/drop|reject/i.test(field) || typeof value !== 'number') continue;
          this.inc({ interface: i.name, reason: field }, value);
        }
      }
    },
  });

  const requestDuration = new Histogram({
    name: 'vpnsvc_http_request_duration_seconds',
    help: 'REST request durations by route template, method and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const eventsEmitted = new Counter({
    name: 'vpnsvc_events_total',
    help: 'State-change events emitted, by type',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const followersDropped = new Counter({
    name: 'vpnsvc_event_followers_dropped_total',
    help: 'Event followers disconnected for falling too far behind',
    labelNames: ['transport'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'vpnsvc_event_followers',
    help: 'Connected event followers (WebSocket and SSE)',
    registers: [registry],
    collect() {
      this.set(sources.eventFollowers());
    },
  });
  return { registry, requestDuration, eventsEmitted, followersDropped };
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** Metrics for the app's engine: every event counted (also those emitted before the app existed), every request timed. */
async function metricsPlugin(app: FastifyInstance): Promise<void> {
  const { vpnsvc, followers } = app;
  const metrics = createMetrics({ interfaces: () => vpnsvc.list(), eventFollowers: () => followers.count });
  for (const e of vpnsvc.events.after(0).events) metrics.eventsEmitted.inc({ type: e.type });
  const unsubscribe = vpnsvc.events.subscribe((e) => metrics.eventsEmitted.inc({ type: e.type }));
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (request, reply) => {
    // The route template (not the URL) keeps label values bounded; unmatched paths share one.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.addHook('onClose', async () => unsubscribe());
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x', dependencies: ['vpnsvc', 'followers'] });
