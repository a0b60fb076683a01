/**
 * Kernel counters of a link from /proc/net/dev. That file follows the reading process's network
 * namespace (unlike /sys/class/net, which follows the sysfs mount), so it is right inside
 * `unshare -n` too.
 */
import { readFileSync } from 'node:fs';

export interface LinkStats {
  rxBytes: number;
  rxPackets: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txDropped: number;
}

export function parseProcNetDev(text: string, name: string): LinkStats | undefined {
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() !== name) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs drop ...
    return {
      rxBytes: f[0] ?? 0,
      rxPackets: f[1] ?? 0,
      rxDropped: f[3] ?? 0,
      txBytes: f[8] ?? 0,
      txPackets: f[9] ?? 0,
      txDropped: f[11] ?? 0,
    };
  }
  return undefined;
}

export function readLinkStats(name: string): LinkStats | undefined {
  return parseProcNetDev(readFileSync('/proc/net/dev', 'utf8'), name);
}
