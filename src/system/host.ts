/** What the host offers the VPN feature: TUN device, CAP_NET_ADMIN, nft. */
import { readFileSync } from 'node:fs';
import { errnoName } from '../errors/errno.js';
import { tunDeviceStatus } from './native.js';
import { runProgram } from './process.js';

const CAP_NET_ADMIN = 12;

export interface HostProbe {
  tunDevice: boolean;
  tunDeviceError: string | undefined;
  netAdmin: boolean;
  nft: { available: boolean; version?: string };
}

/** Reads the effective capability set of this process from /proc/self/status. */
export function hasCapability(bit: number, status = readFileSync('/proc/self/status', 'utf8')): boolean {
  const line = status.split('\n').find((l) => l.startsWith('CapEff:'));
  if (!line) return false;
  const mask = BigInt(`0x${line.slice('CapEff:'.length).trim()}`);
  return (mask & (1n << BigInt(bit))) !== 0n;
}

async function probeNft(): Promise<HostProbe['nft']> {
  try {
    return { available: true, version: (await runProgram('nft', ['--version'])).trim() };
  } catch {
    return { available: false };
  }
}

export async function probeHost(): Promise<HostProbe> {
  const tun = tunDeviceStatus();
  return {
    tunDevice: tun === 0,
    tunDeviceError: tun === 0 ? undefined : errnoName(tun),
    netAdmin: hasCapability(CAP_NET_ADMIN),
    nft: await probeNft(),
  };
}
