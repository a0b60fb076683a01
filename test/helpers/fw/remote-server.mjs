// Runs in the "remote" namespace: TCP and UDP echo on 7001/7002. One UDP socket per address given
// in argv so that each reply leaves from the address the probe was sent to (as a real server's does).

import dgram from 'node:dgram';
import net from 'node:net';

const counts = {};
net
  .createServer((s) => {
    s.on('error', () => {});
    s.end('ok');
  })
  .listen({ port: 7001, host: '::', ipv6Only: false });
let pending = process.argv.length - 2;
for (const addr of process.argv.slice(2)) {
  const u = dgram.createSocket(net.isIPv6(addr) ? 'udp6' : 'udp4');
  u.on('message', (msg, rinfo) => {
    const tag = msg.toString();
    if (tag === 'count') {
      counts[addr] = (counts[addr] ?? 0) + 1;
      return;
    }
    if (tag === 'stats') {
      u.send(JSON.stringify(counts), rinfo.port, rinfo.address);
      return;
    }
    u.send(msg, rinfo.port, rinfo.address);
  });
  u.bind(7002, addr, () => {
    if (--pending === 0) process.stdout.write('ready\n');
  });
}
