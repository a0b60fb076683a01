/**
 * Remembers, in the state directory, which interface a per-link backend configured, so the
 * next start after a crash can take it back even though the engine's memory is gone.
 */
import { join } from 'node:path';
import { type FsOps, readIfPresent, realFs, removeDurably, writeFileAtomicWith } from '../atomic-file.js';
import type { ResolverBackendName } from './types.js';

const RECORD_FILE = 'dns-link.json';

export interface LinkRecord {
  backend: ResolverBackendName;
  /** The name the backend knows the configuration by (interface, or resolvconf record). */
  name: string;
}

export class LinkRecordStore {
  private readonly path: string;

  constructor(
    private readonly stateDir: string,
    private readonly fs: FsOps = realFs,
  ) {
    this.path = join(stateDir, RECORD_FILE);
  }

  read(): LinkRecord | undefined {
    const raw = readIfPresent(this.fs, this.path);
    return raw ? (JSON.parse(raw.toString('utf8')) as LinkRecord) : undefined;
  }

  write(record: LinkRecord): void {
    this.fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    writeFileAtomicWith(this.fs, this.path, Buffer.from(JSON.stringify(record)), { mode: 0o600 });
  }

  remove(): void {
    removeDurably(this.fs, this.path);
  }
}
