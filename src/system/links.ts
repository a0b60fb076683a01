/**
 * Link look-ups and removal for crash recovery, through iproute2 (argument arrays, no shell).
 * Rare and off the request path, so a process per call is fine here.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { ioError } from '../errors/errors.js';
import * as native from './native.js';

const run = promisify(execFile);

export interface LinkProbe {
  /** The interface index of `name`, or undefined when there is no such link. */
  index(name: string): number | undefined;
  isTun(name: string): boolean;
  remove(name: string): Promise<void>;
}

export const iproute2Links: LinkProbe = {
  index: (name) => native.ifIndex(name),
  isTun(name) {
    try {
      const out = execFileSync('ip', ['-j', '-d', 'link', 'show', 'dev', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const links = JSON.parse(out) as { linkinfo?: { info_kind?: string } }[];
      return links[0]?.linkinfo?.info_kind === 'tun';
    } catch {
      return false;
    }
  },
  async remove(name) {
    try {
      await run('ip', ['link', 'delete', 'dev', name]);
    } catch (err) {
      throw ioError(`cannot remove the stale TUN ${name}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
    }
  },
};
