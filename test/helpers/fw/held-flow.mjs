// Client namespace: a UDP flow to argv[2] that exists before the block. Sends, gets the echo
// (conntrack now has the flow established), says "ready", waits for a line on stdin, sends
// again on the same socket and prints "reply" or "none" (or "refused" when the output hook
// dropped it). Gives up after 30 s.
import dgram from 'node:dgram';
import net from 'node:net';

const addr = process.argv[2];
const s = dgram.createSocket(net.isIPv6(addr) ? 'udp6' : 'udp4');
const echo = () =>
  new Promise((resolve) => {
    const t = setTimeout(() => {
      s.removeAllListeners('message');
      resolve(false);
    }, 800);
    s.once('message', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
const give = setTimeout(() => process.exit(2), 30_000);
s.connect(7002, addr, async () => {
  let got = echo();
  s.send('ping');
  if (!(await got)) {
    console.log('no first echo');
    process.exit(1);
  }
  console.log('ready');
  process.stdin.once('data', async () => {
    got = echo();
    s.send('ping', (err) => {
      if (err) {
        console.log(err.code === 'EPERM' ? 'refused' : `error ${err.code}`);
        process.exit(0);
      }
    });
    console.log((await got) ? 'reply' : 'none');
    clearTimeout(give);
    s.close();
    process.stdin.destroy();
  });
});
