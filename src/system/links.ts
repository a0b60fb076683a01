/**
 * Link look-ups and removal for crash recovery, through iproute2 (argument arrays, no shell).
 * Rare and off the request path, so a process per call is fine here.
 */
import { ioError } from '../errors/errors.js';
import * as native from './native.js';
import { type RunOptions, runProgram } from './process.js';

const IP: RunOptions = { debianPackage: 'iproute2' };

export interface LinkProbe {
  /** The interface index of `name`, or undefined when there is no such link. */
  index(name: string): number | undefined;
  isTun(name: string): Promise<boolean>;
  remove(name: string): Promise<void>;
}

export const iproute2Links: LinkProbe = {
  index: (name) => native.ifIndex(name),
  async isTun(name) {
    try {
      const links = JSON.parse(await runProgram('ip', ['-j', '-d', 'link', 'show', 'dev', name], IP)) as {
        linkinfo?: { info_kind?: string };
      }[];
      return links[0]?.linkinfo?.info_kind === 'tun';
    } catch {
      // gone meanwhile, or no ip: then it is not provably ours, and is left alone
      return false;
    }
  },
  async remove(name) {
    try {
      await runProgram('ip', ['link', 'delete', 'dev', name], IP);
    } catch (err) {
      throw ioError(`cannot remove the stale TUN ${name}: ${(err as Error).message}`);
    }
  },
};
