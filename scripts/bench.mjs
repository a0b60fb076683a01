#!/usr/bin/env node
/**
 * npm run bench: one run, one two-namespace topology, three data paths back to back:
 *   (a) native-shim/bench/c-relay.c, a minimal C relay between the two TUNs (blocking
 *       read/write, one packet per syscall, a thread per direction): the practical limit of a
 *       userspace tunnel on this machine;
 *   (b) the daemon + `vpnsvc bridge` over the WebSocket stream, in the packet framing and in
 *       the batch framing.
 * iperf3 TCP both ways and UDP 64-byte packets per second both ways, SECS seconds each.
 * Prints a table with every figure, the ratio (b)/(a), CPU seconds per GB and the daemon's peak
 * RSS. Not a test: figures depend on the machine and on whatever else runs on it.
 *
 *   SECS=5 npm run bench          ONLY=c,packet,batch  TESTS=tcp,tcpR,udp,udpR
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB, TunnelLab, haveCommand, root, sleep } from './lib/tunnel-lab.mjs';

if (process.getuid?.() !== 0) { console.error('npm run bench needs root (namespaces, TUN devices)'); process.exit(1); }
if (!haveCommand('iperf3')) { console.error('npm run bench needs iperf3 (apt-get install iperf3)'); process.exit(1); }

const SECS = Number(process.env.SECS ?? 5);
const ONLY = (process.env.ONLY ?? 'c,packet,batch').split(',');
const TESTS = (process.env.TESTS ?? 'tcp,tcpR,udp,udpR').split(',');
const TEST_NAMES = { tcp: 'TCP B→A (Gbit/s)', tcpR: 'TCP A→B (Gbit/s)', udp: 'UDP 64 B B→A (kpps)', udpR: 'UDP 64 B A→B (kpps)' };
const UDP_PACKET_BYTES = 64 + 8 + 20; // iperf3 -l 64 payload + UDP + IPv4 headers

function buildRelay() {
  const out = join(root, 'native-shim/build/c-relay');
  mkdirSync(join(root, 'native-shim/build'), { recursive: true });
  execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', out, join(root, 'native-shim/bench/c-relay.c')], { stdio: 'inherit' });
  return out;
}

const tick = Number(execFileSync('getconf', ['CLK_TCK']).toString());
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / tick; // utime + stime
}
const peakRssMB = (pid) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

function iperf(lab, test) {
  const args = ['-c', LAB.tunnelA, '-t', String(SECS), '-J'];
  if (test.endsWith('R')) args.push('-R');
  if (test.startsWith('udp')) args.push('-u', '-l', '64', '-b', '0');
  let out;
  try {
    out = JSON.parse(lab.run(lab.nsB, 'iperf3', args, (SECS + 20) * 1000));
  } catch (err) {
    const text = String(err.stdout ?? err.message);
    try { out = JSON.parse(text); } catch { return { error: text.slice(0, 160) }; }
  }
  if (out.error) return { error: out.error };
  if (test.startsWith('tcp')) {
    const s = out.end.sum_received;
    return { value: s.bits_per_second / 1e9, bytes: s.bytes };
  }
  const s = out.end.sum_received ?? out.end.sum;
  const delivered = s.packets - (s.lost_packets ?? 0);
  return { value: delivered / s.seconds / 1e3, bytes: delivered * UDP_PACKET_BYTES };
}

async function measure(lab, label, pids) {
  const result = {};
  for (const test of TESTS) {
    const before = pids.map(cpuSeconds);
    const r = iperf(lab, test);
    r.cpuEach = pids.map((pid, i) => cpuSeconds(pid) - before[i]);
    r.cpu = r.cpuEach.reduce((a, b) => a + b, 0);
    result[test] = r;
    process.stderr.write(`  ${label} ${TEST_NAMES[test]}: ${r.error ? `error ${r.error}` : r.value.toFixed(2)} (CPU s: ${r.cpuEach.map((c) => c.toFixed(2)).join(' + ')})\n`);
    await sleep(300);
  }
  return result;
}

// The compiled daemon and bridge, as users run them.
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
const lab = new TunnelLab('bench', { compiled: true });
const results = {};
let daemonRss;
try {
  lab.create();
  const server = await lab.start(lab.nsA, 'iperf3', ['-s', '--forceflush'], { ready: /listening/i });
  if (ONLY.includes('c')) {
    const relayBin = buildRelay();
    // Persistent TUNs with the tunnel's addresses, which the relay attaches to.
    for (const [ns, dev, local, peer] of [[lab.nsA, LAB.tunA, LAB.tunnelA, LAB.tunnelB], [lab.nsB, LAB.tunB, LAB.tunnelB, LAB.tunnelA]]) {
      lab.run(ns, 'ip', ['tuntap', 'add', 'dev', dev, 'mode', 'tun']);
      lab.run(ns, 'ip', ['addr', 'add', local, 'peer', peer, 'dev', dev]);
      lab.run(ns, 'ip', ['link', 'set', dev, 'up']);
    }
    const relay = await lab.start(lab.nsA, relayBin, [lab.nsA, LAB.tunA, lab.nsB, LAB.tunB], { ready: /ready/ });
    process.stderr.write('C relay\n');
    results.c = await measure(lab, 'C relay', [relay.pid]);
    await lab.stop(relay);
    lab.run(lab.nsA, 'ip', ['link', 'del', LAB.tunA]);
    lab.run(lab.nsB, 'ip', ['link', 'del', LAB.tunB]);
  }
  const framings = ['packet', 'batch'].filter((f) => ONLY.includes(f));
  if (framings.length > 0) {
    const daemon = await lab.startDaemon();
    lab.createInterface();
    for (const framing of framings) {
      const bridge = await lab.startBridge(framing);
      await sleep(300);
      process.stderr.write(`daemon + bridge, ${framing} framing\n`);
      results[framing] = await measure(lab, framing, [daemon.pid, bridge.pid]);
      results[framing].bridgeRss = peakRssMB(bridge.pid);
      await lab.stop(bridge);
      await sleep(300);
    }
    daemonRss = peakRssMB(daemon.pid);
    results.counters = lab.api('GET', `/interfaces/${LAB.tunA}`).counters;
  }
  await lab.stop(server);
} catch (err) {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
} finally {
  lab.destroy();
}

// ---- the table --------------------------------------------------------------------------
const cols = [['c', 'C relay (a)'], ['packet', 'packet framing (b)'], ['batch', 'batch framing (b)']].filter(([k]) => results[k]);
const fmt = (r) => (r && !r.error ? r.value.toFixed(r.value >= 100 ? 0 : 2) : 'error');
const ratio = (k, t) => (results.c?.[t]?.value && results[k]?.[t]?.value ? ` (${(results[k][t].value / results.c[t].value).toFixed(2)}×)` : '');
const lines = [];
lines.push(`| ${['', ...cols.map(([, n]) => n)].join(' | ')} |`);
lines.push(`|${'---|'.repeat(cols.length + 1)}`);
for (const t of TESTS) lines.push(`| ${TEST_NAMES[t]} | ${cols.map(([k]) => fmt(results[k][t]) + (k === 'c' ? '' : ratio(k, t))).join(' | ')} |`);
for (const t of TESTS.filter((x) => x.startsWith('tcp'))) {
  lines.push(`| CPU s/GB, ${TEST_NAMES[t].replace(' (Gbit/s)', '')} | ${cols.map(([k]) => { const r = results[k][t]; return r?.bytes ? (r.cpu / (r.bytes / 1e9)).toFixed(2) : '-'; }).join(' | ')} |`);
}
lines.push(`| peak RSS (MB) | ${cols.map(([k]) => (k === 'c' ? '~2' : `daemon ${daemonRss?.toFixed(0)} (whole run), bridge ${results[k].bridgeRss.toFixed(0)}`)).join(' | ')} |`);
console.log(`\n${SECS} s per figure; CPU = the relay process, or daemon + bridge (user + system).`);
console.log(lines.join('\n'));
if (results.counters) console.log(`\ndaemon counters after the run: ${JSON.stringify(results.counters)}`);
console.log('Targets: batch TCP ≥ 0.75×, packet TCP ≥ 0.4×, 64-byte pps ≥ 0.5×, daemon RSS < 200 MB.');
