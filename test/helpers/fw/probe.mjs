// Runs in the "client" namespace. argv: proto:addr ... ; prints {"tcp:1.2.3.4":true,...}

import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';

const TIMEOUT = Number(process.env.PROBE_TIMEOUT_MS ?? 800);
function tcp(addr) {
  return new Promise((res) => {
    const s = net.connect({ host: addr, port: 7001, timeout: TIMEOUT });
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('end', () => {
      s.destroy();
      res(got === 'ok');
    });
    s.on('timeout', () => {
      s.destroy();
      res(false);
    });
    s.on('error', () => res(false));
  });
}
function udp(addr) {
  return new Promise((res) => {
    const s = dgram.createSocket(net.isIPv6(addr) ? 'udp6' : 'udp4');
    const t = setTimeout(() => {
      s.close();
      res(false);
    }, TIMEOUT);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      res(m.toString() === 'ping');
    });
    s.on('error', () => {
      clearTimeout(t);
      s.close();
      res(false);
    });
    s.send('ping', 7002, addr);
  });
}
function icmp(addr) {
  const w = String(Math.max(1, Math.ceil(TIMEOUT / 1000)));
  return new Promise((res) => execFile('ping', ['-n', '-c', '1', '-W', w, addr], (err) => res(!err)));
}
const fns = { tcp, udp, icmp };
const out = {};
await Promise.all(
  process.argv.slice(2).map(async (p) => {
    const i = p.indexOf(':');
    out[p] = await fns[p.slice(0, i)](p.slice(i + 1));
  }),
);
process.stdout.write(`${JSON.stringify(out)}\n`);
