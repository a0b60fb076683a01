#!/usr/bin/env node
/**
 * npm run bench: one run, one two-namespace topology, three data paths back to back:
 *   (a) native-shim/bench/c-relay.c, a minimal C relay between the two TUNs (blocking
 *       read/write, one packet per syscall, a thread per direction): the practical limit of a
 *       userspace tunnel on this machine;
 *   (b) the daemon + `vpnsvc bridge` over the WebSocket stream, in the packet framing and in
 *       the batch framing.
 * iperf3 TCP both ways and UDP 64-byte packets per second both ways, SECS seconds each.
 * Both paths are up at once (the C relay on its own pair of TUNs and addresses), and every
 * figure of (b) is measured right after the same figure of (a), so a change in the machine's
 * load between rows does not skew the ratios.
 * Prints a table with every figure, the ratio (b)/(a), CPU seconds per GB and the daemon's peak
 * RSS. Not a test: figures depend on the machine and on whatever else runs on it.
 *
 *   SECS=5 npm run bench          FRAMINGS=packet,batch  TESTS=tcp,tcpR,udp,udpR
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, LAB, root, sleep, TunnelLab } from './lib/tunnel-lab.mjs';

if (process.getuid?.() !== 0) {
  console.error('npm run bench needs root (namespaces, TUN devices)');
  process.exit(1);
}
if (!haveCommand('iperf3')) {
  console.error('npm run bench needs iperf3 (apt-get install iperf3)');
  process.exit(1);
}

const SECS = Number(process.env.SECS ?? 5);
const FRAMINGS = (process.env.FRAMINGS ?? 'packet,batch').split(',');
const TESTS = (process.env.TESTS ?? 'tcp,tcpR,udp,udpR').split(',');
const TEST_NAMES = { tcp: 'TCP B→A (Gbit/s)', tcpR: 'TCP A→B (Gbit/s)', udp: 'UDP 64 B B→A (kpps)', udpR: 'UDP 64 B A→B (kpps)' };
const UDP_PACKET_BYTES = 64 + 8 + 20; // iperf3 -l 64 payload + UDP + IPv4 headers

function buildRelay() {
  const out = join(root, 'native-shim/build/c-relay');
  mkdirSync(join(root, 'native-shim/build'), { recursive: true });
  execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', out, join(root, 'native-shim/bench/c-relay.c')], {
    stdio: 'inherit',
  });
  return out;
}

const tick = Number(execFileSync('getconf', ['CLK_TCK']).toString());
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / tick; // utime + stime
}
const peakRssMB = (pid) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

// The C relay's own tunnel, beside the daemon's.
const RELAY = { tunA: 'vslabc0', tunB: 'vslabc1', endA: '10.77.1.1', endB: '10.77.1.2' };

function iperf(lab, test, target) {
  const args = ['-c', target, '-t', String(SECS), '-J'];
  if (test.endsWith('R')) args.push('-R');
  if (test.startsWith('udp')) args.push('-u', '-l', '64', '-b', '0');
  let out;
  try {
    out = JSON.parse(lab.run(lab.nsB, 'iperf3', args, (SECS + 20) * 1000));
  } catch (err) {
    const text = String(err.stdout ?? err.message);
    try {
      out = JSON.parse(text);
    } catch {
      return { error: text.slice(0, 160) };
    }
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

async function measure(lab, label, pids, test, target) {
  {
    const before = pids.map(cpuSeconds);
    const r = iperf(lab, test, target);
    r.cpuEach = pids.map((pid, i) => cpuSeconds(pid) - before[i]);
    r.cpu = r.cpuEach.reduce((a, b) => a + b, 0);
    process.stderr.write(
      `  ${label} ${TEST_NAMES[test]}: ${r.error ? `error ${r.error}` : r.value.toFixed(2)} (CPU s: ${r.cpuEach.map((c) => c.toFixed(2)).join(' + ')}; peak RSS MB: ${pids.map((p) => peakRssMB(p).toFixed(0)).join(' + ')})\n`,
    );
    await sleep(300);
    return r;
  }
}

// The compiled daemon and bridge, as users run them.
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
const lab = new TunnelLab('bench', { compiled: true });
const rows = {}; // rows[framing][test] = { c, node }
const bridgeRss = {};
const gsoRows = {};
let daemonRss;
let counters;
try {
  lab.create();
  const server = await lab.start(lab.nsA, 'iperf3', ['-s', '--forceflush'], { ready: /listening/i });
  // (a): persistent TUNs with their own addresses, which the relay attaches to.
  for (const [ns, dev, local, peer] of [
    [lab.nsA, RELAY.tunA, RELAY.endA, RELAY.endB],
    [lab.nsB, RELAY.tunB, RELAY.endB, RELAY.endA],
  ]) {
    lab.run(ns, 'ip', ['tuntap', 'add', 'dev', dev, 'mode', 'tun']);
    lab.run(ns, 'ip', ['addr', 'add', local, 'peer', peer, 'dev', dev]);
    lab.run(ns, 'ip', ['link', 'set', dev, 'up']);
  }
  const relayBin = buildRelay();
  const relay = await lab.start(lab.nsA, relayBin, [lab.nsA, RELAY.tunA, lab.nsB, RELAY.tunB], { ready: /ready/ });
  // (b): the daemon's interface, and a bridge per framing.
  const daemon = await lab.startDaemon();
  lab.createInterface();
  for (const framing of FRAMINGS) {
    const bridge = await lab.startBridge(framing);
    await sleep(300);
    process.stderr.write(`${framing} framing\n`);
    rows[framing] = {};
    for (const test of TESTS) {
      const c = await measure(lab, 'C relay', [relay.pid], test, RELAY.endA);
      const node = await measure(lab, framing, [daemon.pid, bridge.pid], test, LAB.tunnelA);
      rows[framing][test] = { c, node };
    }
    bridgeRss[framing] = peakRssMB(bridge.pid);
    await lab.stop(bridge);
    await sleep(300);
  }
  daemonRss = peakRssMB(daemon.pid);
  counters = lab.api('GET', `/interfaces/${LAB.tunA}`).counters;
  await lab.stop(relay);
  if (process.env.GSO !== '0') {
    // For reference: the same relay with IFF_VNET_HDR and TSO offloads moves 64 KiB super-packets.
    const gsoRelay = await lab.start(lab.nsA, relayBin, [lab.nsA, RELAY.tunA, lab.nsB, RELAY.tunB, 'gso'], { ready: /ready/ });
    for (const test of TESTS.filter((t) => t.startsWith('tcp')))
      gsoRows[test] = await measure(lab, 'C relay, offloads', [gsoRelay.pid], test, RELAY.endA);
    await lab.stop(gsoRelay);
  }
  await lab.stop(server);
} catch (err) {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
} finally {
  lab.destroy();
}

// ---- the table --------------------------------------------------------------------------
const fmt = (r) => (r && !r.error ? r.value.toFixed(r.value >= 100 ? 0 : 2) : 'error');
const ratio = (pair) => (pair?.c?.value && pair?.node?.value ? `${(pair.node.value / pair.c.value).toFixed(2)}×` : '-');
const perGB = (r) => (r?.bytes ? (r.cpu / (r.bytes / 1e9)).toFixed(2) : '-');
const framings = Object.keys(rows);
const head = ['', ...framings.flatMap((f) => ['C relay (a)', `${f} framing (b)`, '(b)/(a)'])];
const lines = [`| ${head.join(' | ')} |`, `|${'---|'.repeat(head.length)}`];
for (const t of TESTS)
  lines.push(
    `| ${TEST_NAMES[t]} | ${framings.flatMap((f) => [fmt(rows[f][t]?.c), fmt(rows[f][t]?.node), ratio(rows[f][t])]).join(' | ')} |`,
  );
for (const t of TESTS.filter((x) => x.startsWith('tcp'))) {
  lines.push(
    `| CPU s/GB, ${TEST_NAMES[t].replace(' (Gbit/s)', '')} | ${framings.flatMap((f) => [perGB(rows[f][t]?.c), perGB(rows[f][t]?.node), '']).join(' | ')} |`,
  );
}
lines.push(`| peak RSS (MB) | ${framings.flatMap((f) => ['~2', `bridge ${bridgeRss[f]?.toFixed(0) ?? '-'}`, '']).join(' | ')} |`);
console.log(`\n${SECS} s per figure; each (b) right after its (a). CPU: the relay process, or daemon + bridge (user + system).`);
console.log(lines.join('\n'));
if (Object.keys(gsoRows).length > 0) {
  console.log(
    `C relay with IFF_VNET_HDR + TSO offloads (reference, not a target): ${Object.entries(gsoRows)
      .map(([t, r]) => `${TEST_NAMES[t].replace(' (Gbit/s)', '')} ${fmt(r)} Gbit/s, ${perGB(r)} CPU s/GB`)
      .join('; ')}`,
  );
}
console.log(`daemon peak RSS over the whole run: ${daemonRss?.toFixed(0) ?? '-'} MB`);
if (counters) console.log(`daemon counters after the run: ${JSON.stringify(counters)}`);
console.log('Targets: batch TCP ≥ 0.75×, packet TCP ≥ 0.4×, 64-byte pps ≥ 0.5×, daemon RSS < 200 MB.');
