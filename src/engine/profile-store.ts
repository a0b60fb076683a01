/**
 * Named profiles, one YAML file each in the state directory (`profiles/NAME.yaml`, mode 0600),
 * written atomically: a crash leaves the old file or the new one, whole. Files are read back
 * through the same shape check as any document, so a hand-edited file with an unknown field is
 * refused with the file's name, never half used.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Profile, ProfileList } from '../contract/api-types.js';
import { invalidParameter, ioError, noSuchFile, VpnsvcError } from '../errors/errors.js';
import { removeFileDurably, writeFileAtomic } from '../system/atomic-file.js';
import { checkProfile, parseProfile } from './config-document.js';

export const PROFILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const SUFFIX = '.yaml';

export function checkProfileName(name: string): string {
  if (!PROFILE_NAME.test(name))
    throw invalidParameter(`profile name "${name}" must be 1-64 characters of A-Z a-z 0-9 _ . - (not starting with . or -)`);
  return name;
}

export class ProfileStore {
  constructor(readonly dir: string) {}

  private path(name: string): string {
    return join(this.dir, `${checkProfileName(name)}${SUFFIX}`);
  }

  names(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(SUFFIX) && PROFILE_NAME.test(f.slice(0, -SUFFIX.length)))
      .map((f) => f.slice(0, -SUFFIX.length))
      .sort();
  }

  list(): ProfileList {
    return this.names().map((name) => {
      const p = this.get(name);
      return { name, alwaysOn: p.alwaysOn ?? false, lockdown: p.lockdown ?? false };
    });
  }

  get(name: string): Profile {
    const path = this.path(name);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw noSuchFile(`no profile "${name}"`);
      throw ioError(`cannot read profile ${path}: ${(err as Error).message}`);
    }
    try {
      return parseProfile(parse(text) ?? {}, '');
    } catch (err) {
      // The file is the host's problem, not the caller's: say which file.
      throw ioError(`profile file ${path} is not a valid profile: ${(err as Error).message}`);
    }
  }

  /** Saves a checked profile; true when it was created. At most one profile is alwaysOn. */
  save(name: string, profile: Profile): boolean {
    const path = this.path(name);
    checkProfile(profile);
    if (profile.alwaysOn) {
      const other = this.alwaysOn();
      if (other && other.name !== name) {
        throw invalidParameter(
          `alwaysOn: profile "${other.name}" is already always-on: clear its flag first (one always-on VPN at a time)`,
        );
      }
    }
    const created = !existsSync(path);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(path, stringify(profile), { mode: 0o600 });
    return created;
  }

  remove(name: string): void {
    const path = this.path(name);
    if (!existsSync(path)) throw noSuchFile(`no profile "${name}"`);
    removeFileDurably(path);
  }

  /** The always-on profile, if one is saved. A file that cannot be read is skipped here (get() says why). */
  alwaysOn(): { name: string; profile: Profile } | undefined {
    for (const name of this.names()) {
      try {
        const profile = this.get(name);
        if (profile.alwaysOn) return { name, profile };
      } catch (err) {
        if (!(err instanceof VpnsvcError)) throw err;
      }
    }
    return undefined;
  }
}
