/**
 * The data plane of the daemon's one active interface: a PacketChannel for whichever TUN the
 * engine hands it. The engine releases a TUN before closing its fd, because a poll left on a
 * closed fd could end up watching a recycled one.
 */

import type { TunHandle } from '../system/tun.js';
import { PacketChannel, type PacketCounters, zeroCounters } from './packet-channel.js';

export class DataPlane {
  private channel: PacketChannel | undefined;

  /** The channel of `tun`; a different TUN than last time ends the old channel first. */
  channelFor(tun: TunHandle): PacketChannel {
    if (this.channel?.tun !== tun) {
      this.channel?.close('the interface was replaced');
      this.channel = new PacketChannel(tun);
    }
    return this.channel;
  }

  /** The data plane's counters of `tun` (zeros when it never carried a packet). */
  counters(tun: TunHandle): PacketCounters {
    return this.channel?.tun === tun ? { ...this.channel.counters } : zeroCounters();
  }

  /** The TUN is going away: its stream and waiting reads end with `why`. */
  release(tun: TunHandle, why: string): void {
    if (this.channel?.tun !== tun) return;
    this.channel.close(why);
    this.channel = undefined;
  }

  close(why: string): void {
    this.channel?.close(why);
    this.channel = undefined;
  }
}
