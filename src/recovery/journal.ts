/**
 * Crash recovery. While the daemon runs, a journal in the state directory records what it holds
 * in the kernel (the active TUN). A clean shutdown removes the journal; finding one at start
 * means the predecessor died (SIGKILL, OOM, power): the reconcilers then look at what it left,
 * undo what is stale, keep what must stay (the firewall block is fail-closed), and report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventBus } from '../engine/events.js';
import { removeFileDurably, writeFileAtomic } from '../system/atomic-file.js';
import type { LinkProbe } from '../system/links.js';

export const JOURNAL_FILE = 'runtime.json';

export interface JournalInterface {
  name: string;
  index: number;
}

export interface Journal {
  pid: number;
  startedAt: string;
  epoch: string;
  interfaces: JournalInterface[];
}

/** What one reconciler found and did, for the log and the daemon.recovered event. */
export interface RecoveryReport {
  reconciler: string;
  found: string[];
  did: string[];
}

export interface Reconciler {
  name: string;
  /** `previous` is the crashed run's journal, or undefined after a clean shutdown. */
  run(previous: Journal | undefined): Promise<Omit<RecoveryReport, 'reconciler'>>;
}

export function readJournal(stateDir: string): Journal | undefined {
  const path = join(stateDir, JOURNAL_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as Journal;
    if (typeof j.pid !== 'number' || !Array.isArray(j.interfaces)) throw new Error('bad shape');
    return j;
  } catch {
    // A journal we cannot read still says the predecessor did not stop cleanly.
    return { pid: 0, startedAt: '', epoch: '', interfaces: [] };
  }
}

/** Whether `pid` is another live vpnsvc daemon (same program), not a recycled pid. */
export function isLiveDaemon(pid: number): boolean {
  if (pid <= 0 || pid === process.pid) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((a) => /(^|\/)server\.[jt]s$/.test(a));
  } catch {
    return false;
  }
}

/** Keeps the journal in step with the engine's interface events. */
export class RuntimeJournal {
  private readonly path: string;
  private readonly record: Journal;
  private unsubscribe: (() => void) | undefined;

  constructor(
    stateDir: string,
    private readonly bus: EventBus,
  ) {
    this.path = join(stateDir, JOURNAL_FILE);
    this.record = { pid: process.pid, startedAt: new Date().toISOString(), epoch: bus.epoch, interfaces: [] };
  }

  start(): void {
    this.write();
    this.unsubscribe = this.bus.subscribe((e) => {
      const recorded = (e.data as { index?: unknown } | undefined)?.index;
      const index = typeof recorded === 'number' ? recorded : -1;
      if ((e.type === 'interface.created' || e.type === 'interface.replaced') && e.interface) {
        this.record.interfaces = [...this.record.interfaces.filter((i) => i.name !== e.interface), { name: e.interface, index }];
        this.write();
      } else if (e.type === 'interface.removed' && e.interface) {
        this.record.interfaces = this.record.interfaces.filter((i) => i.name !== e.interface);
        this.write();
      }
    });
  }

  private write(): void {
    // A crash at any point leaves either the old or the new journal, whole.
    writeFileAtomic(this.path, `${JSON.stringify(this.record, null, 2)}\n`, { mode: 0o600 });
  }

  /** At the end of a clean shutdown: nothing is left for a successor to reconcile. */
  close(): void {
    this.unsubscribe?.();
    try {
      removeFileDurably(this.path);
    } catch {
      // A journal left behind only makes the next start look for what is stale: never fatal here.
    }
  }
}

/**
 * A TUN of the crashed run that still exists (another process inherited its fd, or someone made
 * it persistent) is stale: nothing can drive it any more, and its name would push the next init
 * to another one. Only a link with the recorded name, the recorded index and TUN type is touched:
 * index numbers are not reused, so a user's own device of the same name is left alone.
 */
export function staleTunReconciler(links: LinkProbe): Reconciler {
  return {
    name: 'tun',
    async run(previous) {
      const found: string[] = [];
      const did: string[] = [];
      for (const i of previous?.interfaces ?? []) {
        const index = links.index(i.name);
        if (index === undefined) {
          found.push(`${i.name} (index ${i.index}) is gone, as it should be`);
        } else if (index !== i.index || !(await links.isTun(i.name))) {
          found.push(`${i.name} exists but is not the crashed run's TUN (index ${index}, was ${i.index}): left alone`);
        } else {
          found.push(`${i.name} (index ${i.index}) is still there`);
          await links.remove(i.name);
          did.push(`removed the stale TUN ${i.name}`);
        }
      }
      return { found, did };
    },
  };
}

export async function reconcile(previous: Journal | undefined, reconcilers: Reconciler[]): Promise<RecoveryReport[]> {
  const reports: RecoveryReport[] = [];
  for (const r of reconcilers) {
    try {
      reports.push({ reconciler: r.name, ...(await r.run(previous)) });
    } catch (err) {
      reports.push({ reconciler: r.name, found: [], did: [`failed: ${(err as Error).message}`] });
    }
  }
  return reports;
}

/** The routes of the crashed run lived on its TUN: the kernel dropped them with the link. */
export function routesReconciler(links: LinkProbe): Reconciler {
  return {
    name: 'routes',
    async run(previous) {
      const found = (previous?.interfaces ?? []).map((i) =>
        links.index(i.name) === undefined
          ? `the routes through ${i.name} went with the link`
          : `${i.name} still exists: its routes go with it when the tun reconciler removes it`,
      );
      return { found, did: [] };
    },
  };
}

/**
 * The resolver: the backend's own recovery ran before the engine was built (compose.ts), putting
 * back what the crashed run changed. `restored` says what that was, as the caller saw it.
 */
export function resolverReconciler(backend: string, restored: string | undefined): Reconciler {
  return {
    name: 'resolver',
    async run() {
      return restored
        ? { found: [restored], did: [`restored the resolver through the ${backend} backend`] }
        : { found: [`nothing of the crashed run left in the ${backend} backend`], did: [] };
    },
  };
}

/** The kill switch is fail-closed: a block of the crashed run stays in force, and is said to. */
export function firewallReconciler(state: () => Promise<{ blocked: boolean; allowVpn: unknown[]; allowOriginal: unknown[] }>): Reconciler {
  return {
    name: 'firewall',
    async run() {
      const s = await state();
      return s.blocked
        ? {
            found: [
              `the kill switch is still in force (${s.allowVpn.length} VPN and ${s.allowOriginal.length} original-network exceptions): kept, fail-closed; lift it with DELETE /firewall (vpnsvc firewall unblock)`,
            ],
            did: [],
          }
        : { found: ['no kill switch in force'], did: [] };
    },
  };
}

/** What the full tunnel's reconciler needs of the host: the service's rules and its table's routes. */
export interface PolicyRoutingProbe {
  /** Removes every rule of the service (protocol 86); returns how many there were. */
  flushRules(): Promise<number>;
  /** Removes the service's routes (protocol 86) from its own table; returns how many there were. */
  flushTable(): Promise<number>;
  /** Removes split tunnelling's nftables table (inet vpnsvc_split); returns whether there was one. */
  removeSplitTable?(): Promise<boolean>;
}

/**
 * The full tunnel's rules and the VPN table's routes (excluded prefixes are throw routes, which
 * no device takes with it) outlive a crashed daemon and would keep steering traffic into a
 * tunnel that is gone: they are removed. They carry protocol 86, so only the service's go. The
 * firewall block is not touched here: it is the documented fail-closed state.
 */
export function policyRoutingReconciler(probe: PolicyRoutingProbe): Reconciler {
  return {
    name: 'policy-routing',
    async run() {
      const rules = await probe.flushRules();
      const routes = await probe.flushTable();
      const found = [`${rules} policy rules and ${routes} routes of the VPN's table left by the crashed run`];
      const did: string[] = [];
      if (rules > 0) did.push(`removed ${rules} policy rules (protocol 86)`);
      if (routes > 0) did.push(`removed ${routes} routes of the VPN's table`);
      // The split table would keep marking programs' traffic past a tunnel that is gone; its uid
      // rules are protocol 86 and went with the flush above.
      if (await probe.removeSplitTable?.()) {
        found.push('the split tunnel table inet vpnsvc_split');
        did.push('removed table inet vpnsvc_split');
      }
      return { found, did };
    },
  };
}
