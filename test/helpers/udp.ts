/** A UDP socket for the data-plane tests: where packets written into a TUN should arrive. */
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

/** A UDP socket bound to `address` (an ephemeral port), collecting what arrives; closed after the test. */
export async function udpReceiver(t: TestContext, address: string): Promise<{ port: number; received: Buffer[] }> {
  const sock = createSocket('udp4');
  const received: Buffer[] = [];
  sock.on('message', (m) => received.push(m));
  await new Promise<void>((r) => sock.bind(0, address, () => r()));
  t.after(() => sock.close());
  return { port: (sock.address() as AddressInfo).port, received };
}
