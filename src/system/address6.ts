/**
 * The TUN's global IPv6 address in the kernel: set (replacing the others of ours), removed, read
 * back. A TUN whose IPv6 is switched off (disable_ipv6, which the kernel answers with EACCES)
 * gets it switched on first: asking for an IPv6 address is asking for IPv6 on the device.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { EACCES } from '../errors/errno.js';
import { errnoError } from '../errors/errors.js';
import * as native from './native.js';

export interface KernelAddress6 {
  bytes: Uint8Array;
  prefix: number;
}

const same = (a: KernelAddress6, b: KernelAddress6) => a.prefix === b.prefix && a.bytes.every((x, i) => x === b.bytes[i]);

export function readAddresses6(index: number): KernelAddress6[] {
  return native.listAddresses6(index);
}

/** Makes `want` the device's one global IPv6 address (null: none). */
export function setAddress6(index: number, name: string, want: KernelAddress6 | null): void {
  const have = native.listAddresses6(index);
  if (want !== null && !have.some((a) => same(a, want))) {
    let rc = native.changeAddress6(index, true, want.bytes, want.prefix);
    const sysctl = `/proc/sys/net/ipv6/conf/${name}/disable_ipv6`;
    if (rc === -EACCES && existsSync(sysctl)) {
      writeFileSync(sysctl, '0');
      rc = native.changeAddress6(index, true, want.bytes, want.prefix);
    }
    if (rc < 0) throw errnoError(rc, `set the IPv6 address on "${name}"`, 'VPNSVC_ERROR_IO_ERROR');
  }
  for (const a of have) {
    if (want !== null && same(a, want)) continue;
    const rc = native.changeAddress6(index, false, a.bytes, a.prefix);
    if (rc < 0) throw errnoError(rc, `remove an IPv6 address of "${name}"`, 'VPNSVC_ERROR_IO_ERROR');
  }
}
