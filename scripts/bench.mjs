#!/usr/bin/env node
/**
 * npm run bench: vpnsvc side by side with the baselines and with the tools users would pick
 * instead, in one two-namespace lab (scripts/lib/tunnel-lab.mjs), every path up at once on its
 * own TUN pair and addresses:
 *   - C relay: native-shim/bench/c-relay.c between two TUNs (blocking read/write, one packet per
 *     syscall, a thread per direction), the practical limit of a per-packet userspace tunnel;
 *   - C relay, offloads: the same with IFF_VNET_HDR + TSO (64 KiB TCP super-packets);
 *   - vpnsvc: the daemon in A + `vpnsvc bridge` in B over the WebSocket on the veth, in each framing
 *     (a framing the bridge does not know is shown as not available);
 *   - OpenVPN 2.6 in p2p mode without crypto, and socat TUN over UDP, both over the veth.
 * Figures: iperf3 TCP both ways, UDP 64-byte packets per second both ways, the path's CPU
 * (utime + stime of its processes) per GB and per packet, peak RSS, and the daemon's REST latency
 * (GET /interfaces/<tun> every 20 ms from namespace A) idle and while each path runs.
 * Interleaved: for each test, for each rep, for each path; the table shows medians over the reps,
 * so a change in the machine's load falls on every path alike. Not a test: figures depend on the
 * machine and on whatever else runs on it.
 *
 *   SECS=5 REPS=3 npm run bench    FRAMINGS=packet,batch,gso  TESTS=idle,tcp,tcpR,udp,udpR
 *   PEERS=openvpn,socat (none: no peers)  GSO=0 (no offload relay)   quick: SECS=2 REPS=1 npm run bench
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { haveCommand, LAB, root, sleep, TunnelLab } from './lib/tunnel-lab.mjs';

if (process.getuid?.() !== 0) {
  console.error('npm run bench needs root (namespaces, TUN devices)');
  process.exit(1);
}
if (!haveCommand('iperf3')) {
  console.error('npm run bench needs iperf3 (npm run deps, or apt-get install iperf3)');
  process.exit(1);
}

const list = (v, dflt) => (v ?? dflt).split(',').filter((x) => x && x !== 'none');
const SECS = Math.min(60, Math.max(1, Number(process.env.SECS ?? 5) || 5));
const REPS = Math.min(9, Math.max(1, Math.trunc(Number(process.env.REPS ?? 3)) || 3));
const FRAMINGS = list(process.env.FRAMINGS, 'packet,batch,gso');
const TESTS = list(process.env.TESTS, 'idle,tcp,tcpR,udp,udpR');
const PEERS = list(process.env.PEERS, 'openvpn,socat');
const TRAFFIC = TESTS.filter((t) => t !== 'idle');
const TEST_NAMES = { tcp: 'TCP B→A (Gbit/s)', tcpR: 'TCP A→B (Gbit/s)', udp: 'UDP 64 B B→A (kpps)', udpR: 'UDP 64 B A→B (kpps)' };
const SHORT = { tcp: 'TCP B→A', tcpR: 'TCP A→B', udp: 'UDP B→A', udpR: 'UDP A→B' };
for (const t of TRAFFIC) if (!TEST_NAMES[t]) throw new Error(`unknown test ${t} (idle, tcp, tcpR, udp, udpR)`);
const UDP_PACKET_BYTES = 64 + 8 + 20; // iperf3 -l 64 payload + UDP + IPv4 headers
const PROBE_EVERY_MS = 20;
const IDLE_MS = Math.min(SECS, 3) * 1000;

function buildRelay() {
  const out = join(root, 'native-shim/build/c-relay');
  mkdirSync(join(root, 'native-shim/build'), { recursive: true });
  execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', out, join(root, 'native-shim/bench/c-relay.c')], {
    stdio: 'inherit',
    timeout: 60000,
  });
  return out;
}

const tick = Number(execFileSync('getconf', ['CLK_TCK']).toString());
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / tick; // utime + stime, all threads
  } catch {
    return Number.NaN; // the process is gone: the figure is an error, not a zero
  }
}
function peakRssMB(pid) {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}
/** Resets VmHWM to the current RSS, so a later read is the peak of what came in between. */
function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    /* an older kernel: the lifetime peak is read instead */
  }
}

// Each path's tunnel: its own TUN pair and addresses in A and B (the vpnsvc one is LAB's).
const RELAY = { tunA: 'vslabc0', tunB: 'vslabc1', endA: '10.77.1.1', endB: '10.77.1.2' };
const RELAY_GSO = { tunA: 'vslabg0', tunB: 'vslabg1', endA: '10.77.2.1', endB: '10.77.2.2' };
const OVPN = { tunA: 'vslabo0', tunB: 'vslabo1', endA: '10.77.4.1', endB: '10.77.4.2', port: 1194 };
const SOCAT = { tunA: 'vslabs0', tunB: 'vslabs1', endA: '10.77.5.1', endB: '10.77.5.2', port: 7701 };
// The outer IPv4 + UDP headers socat adds, so a full-size inner packet still fits the veth's 1500.
const SOCAT_MTU = 1500 - 28;

/** The REST prober: a node process in A, GET every PROBE_EVERY_MS over one kept-alive connection. */
const PROBER = `
const [url, delayMs, durationMs, everyMs] = process.argv.slice(1);
const headers = { authorization: 'Bearer ' + process.env.VPNSVC_TOKEN };
const get = () => fetch(url, { headers, signal: AbortSignal.timeout(2000) }).then(async (r) => { await r.arrayBuffer(); return r.ok; });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ms = [];
let errors = 0;
await get().catch(() => false); // opens the connection: not a sample
await sleep(Number(delayMs));
const end = performance.now() + Number(durationMs);
while (performance.now() < end) {
  const t0 = performance.now();
  const ok = await get().catch(() => false);
  const took = performance.now() - t0;
  if (ok) ms.push(took); else errors++;
  await sleep(Math.max(0, Number(everyMs) - took));
}
process.stdout.write(JSON.stringify({ ms, errors }));
`;

async function probeRest(lab, delayMs, durationMs) {
  const url = `http://${LAB.linkA}:${LAB.port}/interfaces/${LAB.tunA}`;
  const r = await lab.exec(
    lab.nsA,
    process.execPath,
    ['--input-type=module', '-e', PROBER, url, String(delayMs), String(durationMs), String(PROBE_EVERY_MS)],
    { timeoutMs: delayMs + durationMs + 15000, env: { VPNSVC_TOKEN: lab.token } },
  );
  try {
    const { ms, errors } = JSON.parse(r.stdout);
    if (ms.length === 0) return { error: `no answer (${errors} errors)` };
    ms.sort((a, b) => a - b);
    const q = (p) => ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)];
    return { p50: q(0.5), p99: q(0.99), n: ms.length, errors };
  } catch {
    return { error: `prober: ${(r.stderr || r.stdout).slice(0, 160)}` };
  }
}

async function iperf(lab, test, target) {
  const args = ['-c', target, '-t', String(SECS), '-J', '--connect-timeout', '3000'];
  if (test.endsWith('R')) args.push('-R');
  if (test.startsWith('udp')) args.push('-u', '-l', '64', '-b', '0');
  const r = await lab.exec(lab.nsB, 'iperf3', args, { timeoutMs: (SECS + 20) * 1000 });
  if (r.timedOut) return { error: 'iperf3 timed out' };
  let out;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    return { error: (r.stderr || r.stdout).slice(0, 160) || `iperf3 exit ${r.code}` };
  }
  if (out.error) return { error: out.error };
  if (test.startsWith('tcp')) {
    const s = out.end.sum_received;
    return { value: s.bits_per_second / 1e9, bytes: s.bytes };
  }
  const s = out.end.sum_received ?? out.end.sum;
  const delivered = s.packets - (s.lost_packets ?? 0);
  return { value: delivered / s.seconds / 1e3, bytes: delivered * UDP_PACKET_BYTES, packets: delivered };
}

/** One figure of one path: iperf3 and the REST prober at once, the path's CPU and peak RSS around them. */
async function measure(lab, path, test) {
  if (path.prepare) await path.prepare();
  const pids = path.pids();
  if (test === 'idle') {
    await sleep(300);
    return { rest: await probeRest(lab, 0, IDLE_MS), load: loadavg()[0] };
  }
  for (const pid of pids) resetPeakRss(pid);
  const before = pids.map(cpuSeconds);
  const [r, rest] = await Promise.all([iperf(lab, test, path.target), probeRest(lab, 500, Math.max(1000, SECS * 1000 - 1000))]);
  const cpuEach = pids.map((pid, i) => cpuSeconds(pid) - before[i]);
  r.cpu = cpuEach.reduce((a, b) => a + b, 0);
  if (!r.error && !Number.isFinite(r.cpu)) r.error = 'a process of the path exited';
  r.rss = pids.map(peakRssMB);
  r.rest = rest;
  r.load = loadavg()[0];
  process.stderr.write(
    `  ${path.label} ${TEST_NAMES[test]}: ${r.error ? `error ${r.error}` : r.value.toFixed(2)}` +
      ` (CPU s ${cpuEach.map((c) => c.toFixed(2)).join(' + ')}; RSS MB ${r.rss.map((m) => m.toFixed(0)).join(' + ')};` +
      ` REST p99 ${rest.p99?.toFixed(1) ?? '-'} ms; load ${r.load.toFixed(2)})\n`,
  );
  await sleep(300);
  return r;
}

async function startRelay(lab, relayBin, tuns, gso) {
  lab.addTun(lab.nsA, tuns.tunA, tuns.endA, tuns.endB);
  lab.addTun(lab.nsB, tuns.tunB, tuns.endB, tuns.endA);
  const args = [lab.nsA, tuns.tunA, lab.nsB, tuns.tunB, ...(gso ? ['gso'] : [])];
  const relay = await lab.start(lab.nsA, relayBin, args, { ready: /ready/ });
  await lab.waitReachable(lab.nsB, tuns.endA);
  return relay;
}

/** OpenVPN 2.6, p2p (no TLS), --cipher none --auth none, userspace data channel: two processes. */
async function startOpenvpn(lab) {
  const common = ['--dev-type', 'tun', '--proto', 'udp', '--cipher', 'none', '--auth', 'none', '--disable-dco', '--verb', '3'];
  const side = (ns, dev, local, remote, end, peer) =>
    lab.start(
      ns,
      'openvpn',
      [
        ...common,
        '--dev',
        dev,
        '--local',
        local,
        '--lport',
        String(OVPN.port),
        '--remote',
        remote,
        '--rport',
        String(OVPN.port),
        '--ifconfig',
        end,
        peer,
      ],
      { ready: /Initialization Sequence Completed/, timeoutMs: 30000 },
    );
  const procs = await Promise.all([
    side(lab.nsA, OVPN.tunA, LAB.linkA, LAB.linkB, OVPN.endA, OVPN.endB),
    side(lab.nsB, OVPN.tunB, LAB.linkB, LAB.linkA, OVPN.endB, OVPN.endA),
  ]);
  await lab.waitReachable(lab.nsB, OVPN.endA);
  return procs;
}

/** socat TUN:<addr>/30 <-> UDP-DATAGRAM over the veth, one process a side. */
async function startSocat(lab) {
  const side = async (ns, dev, end, local, remote) => {
    const p = await lab.start(ns, 'socat', [
      '-d',
      `TUN:${end}/30,tun-name=${dev},iff-no-pi,iff-up`,
      `UDP-DATAGRAM:${remote}:${SOCAT.port},bind=${local}:${SOCAT.port}`,
    ]);
    for (let i = 0; ; i++) {
      try {
        lab.run(ns, 'ip', ['link', 'set', dev, 'mtu', String(SOCAT_MTU)]);
        break;
      } catch (err) {
        if (p.exitCode !== null) throw new Error(`socat exited (${p.exitCode}):\n${p.log}`);
        if (i >= 50) throw err;
        await sleep(100);
      }
    }
    return p;
  };
  const procs = [
    await side(lab.nsA, SOCAT.tunA, SOCAT.endA, LAB.linkA, LAB.linkB),
    await side(lab.nsB, SOCAT.tunB, SOCAT.endB, LAB.linkB, LAB.linkA),
  ];
  await lab.waitReachable(lab.nsB, SOCAT.endA);
  return procs;
}

// ---- the run ----------------------------------------------------------------------------------
// The compiled daemon and bridge, as users run them.
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit', timeout: 600000 });
const lab = new TunnelLab('bench', { compiled: true });
/** The columns, in table order: { key, label, kind, pids(), target, prepare?, na? } */
const paths = [];
/** results[test][pathKey] = [figure of rep 1, rep 2, ...] */
const results = {};
const notes = [];
const bridgePeak = {};
let daemon;
let counters;
try {
  lab.create();
  const server = await lab.start(lab.nsA, 'iperf3', ['-s', '--forceflush'], { ready: /listening/i });
  const relayBin = buildRelay();
  const relay = await startRelay(lab, relayBin, RELAY, false);
  paths.push({ key: 'c', label: 'C relay', kind: 'relay', pids: () => [relay.pid], target: RELAY.endA });
  if (process.env.GSO !== '0') {
    const gsoRelay = await startRelay(lab, relayBin, RELAY_GSO, true);
    paths.push({ key: 'cg', label: 'C relay, offloads', kind: 'relay', pids: () => [gsoRelay.pid], target: RELAY_GSO.endA });
  }

  daemon = await lab.startDaemon();
  // The seed's plain TUN for the packet and batch framings; offload mode for gso, which is what
  // carries super-packets end to end (the bridge's own TUN offloads with --framing gso).
  let offloading = false;
  lab.createInterface();
  // One stream per interface: the framings take turns on the daemon's TUN, switching bridges.
  let bridge = null;
  const useBridge = async (framing) => {
    if (bridge?.framing === framing && bridge.child.exitCode === null) return;
    if (bridge) {
      bridgePeak[bridge.framing] = Math.max(bridgePeak[bridge.framing] ?? 0, peakRssMB(bridge.child.pid) || 0);
      await lab.stop(bridge.child);
      bridge = null;
    }
    if (offloading !== (framing === 'gso')) {
      offloading = framing === 'gso';
      lab.api('DELETE', `/interfaces/${LAB.tunA}`);
      lab.createInterface({ offload: offloading });
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const child = await lab.startBridge(framing);
        bridge = { framing, child };
        break;
      } catch (err) {
        // The daemon may not have seen the previous stream go yet (EBUSY, exit 5): try again.
        if (attempt >= 3 || /exited \(2\)/.test(err.message)) throw err;
        await sleep(1000);
      }
    }
    const negotiated = /framing (\S+)/.exec(bridge.child.log)?.[1] ?? '';
    if (!negotiated.includes(framing)) throw new Error(`bridge --framing ${framing} came up in ${negotiated || 'an unnamed framing'}`);
    await lab.waitReachable(lab.nsB, LAB.tunnelA);
  };
  for (const framing of FRAMINGS) {
    const p = { key: framing, label: `vpnsvc ${framing}`, kind: 'vpnsvc', target: LAB.tunnelA, prepare: () => useBridge(framing) };
    p.pids = () => [daemon.pid, bridge.child.pid];
    try {
      await useBridge(framing);
    } catch (err) {
      const why = /exited \(2\)/.test(err.message)
        ? `the bridge does not know --framing ${framing} (exit 2)`
        : err.message.split('\n').slice(0, 2).join(' ');
      p.na = true;
      notes.push(`vpnsvc ${framing}: not available: ${why}`);
      bridge = null;
    }
    paths.push(p);
  }

  for (const peer of PEERS) {
    if (peer !== 'openvpn' && peer !== 'socat') throw new Error(`unknown peer ${peer} (openvpn, socat)`);
    const label = peer === 'openvpn' ? 'OpenVPN' : 'socat';
    if (!haveCommand(peer)) {
      notes.push(`${label}: skipped, ${peer} is not installed (npm run deps installs it)`);
      continue;
    }
    try {
      const procs = peer === 'openvpn' ? await startOpenvpn(lab) : await startSocat(lab);
      paths.push({ key: peer, label, kind: 'peer', pids: () => procs.map((c) => c.pid), target: (peer === 'openvpn' ? OVPN : SOCAT).endA });
    } catch (err) {
      notes.push(`${label}: skipped, it did not come up: ${err.message.split('\n').slice(0, 3).join(' ')}`);
    }
  }

  const live = paths.filter((p) => !p.na);
  for (const test of TESTS) {
    results[test] = {};
    const run = test === 'idle' ? live.filter((p) => p.kind === 'vpnsvc') : live;
    for (let rep = 1; rep <= REPS; rep++) {
      process.stderr.write(`${test === 'idle' ? 'REST, idle' : TEST_NAMES[test]}, rep ${rep}/${REPS}\n`);
      for (const p of run) {
        let r;
        try {
          r = await measure(lab, p, test);
        } catch (err) {
          r = { error: err.message.split('\n')[0] };
          process.stderr.write(`  ${p.label}: error ${r.error}\n`);
        }
        results[test][p.key] ??= [];
        results[test][p.key].push(r);
      }
    }
  }
  if (bridge) bridgePeak[bridge.framing] = Math.max(bridgePeak[bridge.framing] ?? 0, peakRssMB(bridge.child.pid) || 0);
  counters = lab.api('GET', `/interfaces/${LAB.tunA}`).counters;
  await lab.stop(server);
} catch (err) {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
} finally {
  lab.destroy();
}

// ---- the table --------------------------------------------------------------------------------
const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const ok = (test, key) => (results[test]?.[key] ?? []).filter((r) => !r.error);
const FIGURES = {
  value: (r) => r.value,
  cpuPerGB: (r) => (r.bytes ? r.cpu / (r.bytes / 1e9) : undefined),
  cpuPerPacket: (r) => (r.packets ? (r.cpu * 1e6) / r.packets : undefined),
  restP50: (r) => r.rest?.p50,
  restP99: (r) => r.rest?.p99,
};
const fig = (test, key, name) => median(ok(test, key).map(FIGURES[name]));
const num = (x) => (x === undefined ? '-' : x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2));
const times = (x) => (x === undefined ? '-' : `${x.toFixed(2)}×`);
const relays = paths.filter((p) => p.kind === 'relay');

/** A cell: the median, and for vpnsvc and the peers its ratio to each C relay's median. */
function cell(test, p, name) {
  if (p.na) return 'not available';
  const errors = (results[test]?.[p.key] ?? []).filter((r) => r.error);
  const v = fig(test, p.key, name);
  if (v === undefined) return errors.length ? `error: ${errors[0].error.slice(0, 40)}` : '-';
  if (p.kind === 'relay') return num(v);
  const ratios = relays.map((c) => {
    const base = fig(test, c.key, name);
    return base ? times(v / base) : '-';
  });
  return `${num(v)} (${ratios.join(' · ')})`;
}
function loadRange(test) {
  const loads = Object.values(results[test] ?? {})
    .flat()
    .map((r) => r.load)
    .filter(Number.isFinite);
  if (loads.length === 0) return '-';
  return `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
}
function restCell(test, p) {
  if (p.na) return 'not available';
  const p50 = fig(test, p.key, 'restP50');
  const p99 = fig(test, p.key, 'restP99');
  if (p99 === undefined) return '-';
  const idle = p.kind === 'vpnsvc' && test !== 'idle' ? fig('idle', p.key, 'restP99') : undefined;
  return `${num(p50)} / ${num(p99)}${idle ? ` (${times(p99 / idle)} idle)` : ''}`;
}
function rssCell(p) {
  if (p.na) return 'not available';
  const peak = (i) => Math.max(0, ...TRAFFIC.flatMap((t) => ok(t, p.key).map((r) => r.rss?.[i] ?? 0)));
  if (p.kind === 'vpnsvc') return `daemon ${peak(0).toFixed(0)} + bridge ${Math.max(peak(1), bridgePeak[p.key] ?? 0).toFixed(0)}`;
  return p
    .pids()
    .map((_, i) => peak(i).toFixed(0))
    .join(' + ');
}

if (paths.length > 0) {
  const head = ['', ...paths.map((p) => p.label), 'load 1m'];
  const lines = [`| ${head.join(' | ')} |`, `|${'---|'.repeat(head.length)}`];
  const row = (label, cells, test) => lines.push(`| ${label} | ${cells.join(' | ')} | ${test ? loadRange(test) : ''} |`);
  for (const t of TRAFFIC)
    row(
      TEST_NAMES[t],
      paths.map((p) => cell(t, p, 'value')),
      t,
    );
  for (const t of TRAFFIC.filter((x) => x.startsWith('tcp')))
    row(
      `CPU s/GB, ${SHORT[t]}`,
      paths.map((p) => cell(t, p, 'cpuPerGB')),
      t,
    );
  for (const t of TRAFFIC.filter((x) => x.startsWith('udp')))
    row(
      `CPU µs/packet, ${SHORT[t]}`,
      paths.map((p) => cell(t, p, 'cpuPerPacket')),
      t,
    );
  if (TESTS.includes('idle'))
    row(
      'REST p50 / p99 ms, idle',
      paths.map((p) => (p.kind === 'vpnsvc' ? restCell('idle', p) : '')),
      'idle',
    );
  for (const t of TRAFFIC)
    row(
      `REST p50 / p99 ms, during ${SHORT[t]}`,
      paths.map((p) => restCell(t, p)),
      t,
    );
  row('peak RSS (MB)', paths.map(rssCell));

  console.log(
    `\nMedians of ${REPS} interleaved run${REPS > 1 ? 's' : ''}, ${SECS} s per figure. ` +
      `vpnsvc and peer cells: value (÷ ${relays.map((c) => c.label).join(' · ÷ ')}). ` +
      'CPU: user + system of the path’s processes (relay; daemon + bridge; both peer processes). ' +
      `REST: the daemon’s GET /interfaces/${LAB.tunA} every ${PROBE_EVERY_MS} ms from namespace A, idle (that framing’s bridge connected) and while the column’s path runs.`,
  );
  console.log(lines.join('\n'));
  for (const n of notes) console.log(`note: ${n}`);
  if (PEERS.includes('openvpn')) console.log('OpenVPN: 2.6 p2p, --cipher none --auth none --disable-dco, default MTU and mssfix.');
  if (PEERS.includes('socat')) console.log(`socat: TUN + UDP-DATAGRAM, TUN MTU ${SOCAT_MTU} so the UDP packets fit the veth unfragmented.`);

  // ---- the targets ---------------------------------------------------------------------------
  const val = (t, key, name = 'value') => fig(t, key, name);
  const rel = (t, key, base, name = 'value') => {
    const a = val(t, key, name);
    const b = val(t, base, name);
    return a !== undefined && b ? a / b : undefined;
  };
  const has = (key) => paths.some((p) => p.key === key && !p.na);
  const at = (x, least) => (x === undefined ? undefined : x >= least);
  const atMost = (x, most) => (x === undefined ? undefined : x <= most);
  const verdict = (conds) =>
    conds.length === 0 || conds.some((c) => c === undefined) ? 'not measured' : conds.every(Boolean) ? 'met' : 'NOT met';
  const tcps = TRAFFIC.filter((t) => t.startsWith('tcp'));
  const udps = TRAFFIC.filter((t) => t.startsWith('udp'));
  const out = ['Targets:'];
  {
    const parts = tcps.map((t) => `${SHORT[t]} ${times(rel(t, 'gso', 'c'))}${has('cg') ? ` / ${times(rel(t, 'gso', 'cg'))}` : ''}`);
    const conds = tcps.flatMap((t) => [at(rel(t, 'gso', 'c'), 2.5), ...(has('cg') ? [at(rel(t, 'gso', 'cg'), 0.5)] : [])]);
    out.push(
      `- gso TCP ≥ 2.5× C relay (and ≥ 0.5× offload relay), both ways: ${has('gso') ? `${parts.join(', ')}: ${verdict(conds)}` : 'vpnsvc gso not available'}`,
    );
  }
  {
    const parts = tcps.map((t) => `${SHORT[t]} ${times(rel(t, 'batch', 'c'))}`);
    const conds = tcps.map((t) => at(rel(t, 'batch', 'c'), 0.8));
    out.push(
      `- batch TCP ≥ 0.8× C relay, both ways: ${has('batch') ? `${parts.join(', ')}: ${verdict(conds)}` : 'vpnsvc batch not measured'}`,
    );
  }
  for (const f of FRAMINGS.filter(has)) {
    const parts = udps.map((t) => `${SHORT[t]} ${times(rel(t, f, 'c'))} at ${times(rel(t, f, 'c', 'cpuPerPacket'))} CPU/packet`);
    const conds = udps.flatMap((t) => {
      const pps = rel(t, f, 'c');
      const cpu = rel(t, f, 'c', 'cpuPerPacket');
      return [at(pps, 1.0), atMost(cpu, 1.2)];
    });
    out.push(`- 64-byte pps ≥ 1.0× C relay at ≤ 1.2× its CPU per packet, ${f}: ${parts.join(', ')}: ${verdict(conds)}`);
  }
  for (const f of FRAMINGS.filter(has)) {
    const idle = val('idle', f, 'restP99');
    const worst = Math.max(...TRAFFIC.map((t) => val(t, f, 'restP99') ?? Number.NaN).filter(Number.isFinite));
    const r = idle && Number.isFinite(worst) ? worst / idle : undefined;
    out.push(
      `- REST p99 while saturated ≤ 1.5× idle p99, ${f}: worst ${num(Number.isFinite(worst) ? worst : undefined)} ms vs idle ${num(idle)} ms = ${times(r)}: ${verdict([atMost(r, 1.5)])}`,
    );
  }
  {
    const peak = Math.max(
      0,
      ...paths.filter((p) => p.kind === 'vpnsvc').flatMap((p) => TRAFFIC.flatMap((t) => ok(t, p.key).map((r) => r.rss?.[0] ?? 0))),
    );
    out.push(`- daemon RSS < 200 MB: peak ${peak ? peak.toFixed(0) : '-'} MB: ${verdict([peak ? peak < 200 : undefined])}`);
  }
  console.log(out.join('\n'));
}
if (counters) console.log(`daemon counters after the run: ${JSON.stringify(counters)}`);
