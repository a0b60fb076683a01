// Client namespace: sends `count` UDP datagrams to each address in argv[3..], argv[2] rounds, and
// reports per address how many sends succeeded and how many the output hook refused (EPERM).
import dgram from 'node:dgram';
import net from 'node:net';

const rounds = Number(process.argv[2]);
const addrs = process.argv.slice(3);
const res = Object.fromEntries(addrs.map((a) => [a, { ok: 0, eperm: 0, other: 0 }]));
const socks = Object.fromEntries(addrs.map((a) => [a, dgram.createSocket(net.isIPv6(a) ? 'udp6' : 'udp4')]));
const start = Date.now();
for (let i = 0; i < rounds; i++) {
  await Promise.all(
    addrs.map(
      (a) =>
        new Promise((done) =>
          socks[a].send('count', 7002, a, (err) => {
            if (!err) res[a].ok++;
            else if (err.code === 'EPERM') res[a].eperm++;
            else res[a].other++;
            done();
          }),
        ),
    ),
  );
}
for (const s of Object.values(socks)) s.close();
process.stdout.write(`${JSON.stringify({ ms: Date.now() - start, res })}\n`);
