#!/usr/bin/env node
/**
 * The REST API's latency while the packet stream is saturated: GET /interfaces/<name> back to
 * back for SECS seconds with the tunnel idle, then again while iperf3 fills the tunnel, in the
 * two-namespace lab of `npm run bench` (daemon in A, `vpnsvc bridge` in B). Prints p50/p99/max
 * per phase and the daemon's worst event-loop delay (its /metrics, reset by each scrape).
 * Not a test: figures depend on the machine and on whatever else runs on it.
 *
 *   SECS=3 node scripts/bench-api-latency.mjs     FRAMING=batch  TESTS=tcp,tcpR  COMPILED=1
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { haveCommand, LAB, sleep, TunnelLab } from './lib/tunnel-lab.mjs';

if (process.getuid?.() !== 0) {
  console.error('the latency benchmark needs root (namespaces, TUN devices)');
  process.exit(1);
}
if (!haveCommand('iperf3')) {
  console.error('the latency benchmark needs iperf3 (apt-get install iperf3)');
  process.exit(1);
}

const SECS = Number(process.env.SECS ?? 3);
const FRAMING = process.env.FRAMING ?? 'batch';
const TESTS = (process.env.TESTS ?? 'tcp').split(',');
const compiled = process.env.COMPILED === '1';

/** Runs in namespace A: sequential GETs for `secs`, then the latencies' percentiles as JSON. */
const PROBE = `
  const [base, path, secs] = process.argv.slice(1);
  const headers = { authorization: 'Bearer ' + process.env.VPNSVC_TOKEN };
  const lag = async () => {
    const text = await (await fetch(base + '/metrics', { headers })).text();
    return Number(/^vpnsvc_nodejs_eventloop_lag_max_seconds (\\S+)/m.exec(text)?.[1] ?? NaN) * 1000;
  };
  (async () => {
    await lag();
    const ms = [];
    const until = performance.now() + Number(secs) * 1000;
    while (performance.now() < until) {
      const t0 = performance.now();
      const r = await fetch(base + path, { headers });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error('HTTP ' + r.status);
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
    process.stdout.write(JSON.stringify({ n: ms.length, p50: q(0.5), p99: q(0.99), max: ms.at(-1), lagMax: await lag() }));
  })();`;

const tick = Number(execFileSync('getconf', ['CLK_TCK']).toString());
/** CPU seconds (user + system) of the daemon's main thread and of the whole process. */
function cpu(pid) {
  const seconds = (path) => {
    const f = readFileSync(path, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / tick;
  };
  return { main: seconds(`/proc/${pid}/task/${pid}/stat`), all: seconds(`/proc/${pid}/stat`) };
}

const lab = new TunnelLab('lat', { compiled });
const rows = [];
let daemonRss;
try {
  lab.create();
  const server = await lab.start(lab.nsA, 'iperf3', ['-s', '--forceflush'], { ready: /listening/i });
  const daemon = await lab.startDaemon();
  lab.createInterface();
  const bridge = await lab.startBridge(FRAMING);
  await sleep(500);
  // The probe inherits the environment (lab.run): the token travels there, not in its arguments.
  process.env.VPNSVC_TOKEN = lab.token;
  const probe = (label, keep = true) => {
    const before = cpu(daemon.pid);
    const out = lab.run(
      lab.nsA,
      process.execPath,
      ['-e', PROBE, `http://${LAB.linkA}:${LAB.port}`, `/interfaces/${LAB.tunA}`, String(SECS)],
      (SECS + 20) * 1000,
    );
    const after = cpu(daemon.pid);
    const r = { label, ...JSON.parse(out), cpuMain: after.main - before.main, cpuAll: after.all - before.all };
    if (keep) rows.push(r);
    process.stderr.write(`  ${label}: ${r.n} requests\n`);
  };
  // The first requests compile the routes and warm the JIT: not part of any phase.
  probe('warm-up', false);
  probe('idle');
  for (const test of TESTS) {
    const args = ['-c', LAB.tunnelA, '-t', String(SECS + 2), '-J', ...(test.endsWith('R') ? ['-R'] : [])];
    const flood = await lab.start(lab.nsB, 'iperf3', args);
    const done = new Promise((r) => flood.once('exit', r));
    await sleep(700);
    probe(`${test} saturated`);
    await done;
    try {
      const s = JSON.parse(flood.log).end.sum_received;
      rows.at(-1).gbits = s.bits_per_second / 1e9;
    } catch {
      rows.at(-1).gbits = NaN;
    }
    await sleep(500);
  }
  const counters = lab.api('GET', `/interfaces/${LAB.tunA}`).counters;
  process.stderr.write(`  daemon counters: ${JSON.stringify(counters)}\n`);
  daemonRss = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'))?.[1]) / 1024;
  await lab.stop(bridge);
  await lab.stop(daemon);
  await lab.stop(server);
} catch (err) {
  console.error(`latency benchmark failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
} finally {
  lab.destroy();
}

const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
console.log(
  `\n${SECS} s per phase, ${FRAMING} framing, ${compiled ? 'dist/' : 'src/ through tsx'}; GET /interfaces/${LAB.tunA} back to back`,
);
console.log('| phase | requests | p50 ms | p99 ms | max ms | event-loop delay max ms | tunnel Gbit/s | daemon CPU s: main thread / all |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.label} | ${r.n} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max)} | ${f(r.lagMax)} | ${f(r.gbits)} | ${f(r.cpuMain)} / ${f(r.cpuAll)} |`,
  );
}
console.log(`daemon peak RSS: ${f(daemonRss)} MB`);
