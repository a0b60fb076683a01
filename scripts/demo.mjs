#!/usr/bin/env node
/**
 * npm run demo: a real tunnel in two network namespaces. The daemon runs in A and creates its
 * TUN through the REST API; `vpnsvc bridge` runs in B, linked to A by a veth pair, and pumps
 * the packets over the WebSocket stream. Then ping both ways and a short iperf3. Everything is
 * torn down at the end, also on failure and on Ctrl-C. Needs root; touches no host interface.
 */
import { haveCommand, LAB, TunnelLab } from './lib/tunnel-lab.mjs';

if (process.getuid?.() !== 0) {
  console.error('npm run demo needs root (it creates network namespaces, a veth pair and TUN devices)');
  process.exit(1);
}
const framing = process.argv[2] === 'packet' ? 'packet' : 'batch';
const lab = new TunnelLab('demo');
const say = (s) => console.log(`\n== ${s}`);

try {
  say(`namespaces ${lab.nsA} (daemon) and ${lab.nsB} (bridge), veth ${LAB.linkA} <-> ${LAB.linkB}`);
  lab.create();
  say(`daemon in A, listening on ${LAB.linkA}:${LAB.port}`);
  await lab.startDaemon();
  const iface = lab.createInterface();
  console.log(`POST /interfaces, PATCH, POST apply -> ${iface.name}: ${iface.localIp} peer ${iface.remoteIp}, up=${iface.up}`);
  say(`vpnsvc bridge in B: TUN ${LAB.tunB} ${LAB.tunnelB} peer ${LAB.tunnelA}, framing ${framing}`);
  const bridge = await lab.startBridge(framing);
  console.log(bridge.log.trim());

  say(`ping from B to A's tunnel end (${LAB.tunnelA})`);
  console.log(lab.run(lab.nsB, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', LAB.tunnelA]).trim());
  say(`ping from A to B's tunnel end (${LAB.tunnelB})`);
  console.log(lab.run(lab.nsA, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', LAB.tunnelB]).trim());

  if (haveCommand('iperf3')) {
    say('iperf3, 3 s of TCP from B to A through the tunnel');
    const server = await lab.start(lab.nsA, 'iperf3', ['-s', '-B', LAB.tunnelA, '-1', '--forceflush'], { ready: /listening/i });
    const out = JSON.parse(lab.run(lab.nsB, 'iperf3', ['-c', LAB.tunnelA, '-t', '3', '-J'], 30000));
    console.log(
      `${(out.end.sum_received.bits_per_second / 1e9).toFixed(2)} Gbit/s received, ${out.end.sum_sent.retransmits ?? 0} retransmits`,
    );
    await lab.stop(server);
  } else {
    say('iperf3 is not installed: skipping the throughput run (apt-get install iperf3)');
  }

  say(`GET /interfaces/${LAB.tunA}: counters (kernel + data plane)`);
  console.log(JSON.stringify(lab.api('GET', `/interfaces/${LAB.tunA}`).counters));
  await lab.stop(bridge);
  say('done: tearing down the namespaces');
} catch (err) {
  console.error(`demo failed: ${err.message}`);
  if (lab.daemon) console.error(`daemon log:\n${lab.daemon.log.split('\n').slice(-20).join('\n')}`);
  process.exitCode = 1;
} finally {
  lab.destroy();
}
