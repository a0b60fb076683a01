/**
 * Split tunnelling (PUT/GET/DELETE /split-tunnel), and `vpnsvc exec`, which runs a program in a
 * cgroup of its own, as mullvad-exclude does, so that the daemon's split by program can name it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { UsageError } from '../client.js';
import type { CliCommand, Parsed } from '../command.js';
import { list, type RestSpec, restCommand } from '../rest.js';

/** The cgroups `vpnsvc exec` uses by default, below the root of the cgroup2 mount. */
export const BYPASS_CGROUP = '/vpnsvc.bypass';
export const ONLY_VPN_CGROUP = '/vpnsvc.only-vpn';

function mode(p: Parsed): 'exclude' | 'include' {
  const { exclude, include } = p.values;
  if (exclude === include) throw new UsageError('give one of --exclude (these bypass the VPN) or --include (only these use it)');
  return exclude === true ? 'exclude' : 'include';
}

function showSplit(result: unknown): string {
  const s = result as {
    mode: string | null;
    uids: string[];
    cgroups: string[];
    cgroup2Mount: string | null;
    rules: Array<{ family: number; priority: number; rule: string }>;
  };
  if (s.mode === null) return `nothing is split${s.cgroup2Mount === null ? ' (no cgroup2 mount: split by user only)' : ''}`;
  const lines = [
    `mode     ${s.mode === 'exclude' ? 'exclude (these bypass the VPN)' : 'include (only these use the VPN)'}`,
    `uids     ${s.uids.join(', ') || '-'}`,
    `cgroups  ${s.cgroups.join(', ') || '-'}`,
  ];
  if (s.rules.length > 0) {
    lines.push('', 'FAMILY  PRIORITY  RULE');
    for (const r of s.rules) lines.push(`IPv${r.family}    ${String(r.priority).padEnd(8)}  ${r.rule}`);
  }
  return lines.join('\n');
}

const REST: RestSpec[] = [
  {
    words: 'split set',
    op: 'PUT /split-tunnel',
    summary: 'split tunnelling: --exclude these uids/cgroups from the VPN, or --include only them',
    options: {
      exclude: { type: 'boolean', description: 'the listed uids and cgroups bypass the VPN' },
      include: { type: 'boolean', description: 'only the listed uids and cgroups use the VPN' },
      uid: { type: 'string', multiple: true, value: '<uid|A-B,...>', description: 'uids or ranges, e.g. 65534 or 1000-1999; repeatable' },
      cgroup: {
        type: 'string',
        multiple: true,
        value: '<path,...>',
        description: `cgroup v2 paths from the cgroup2 root, e.g. /system.slice/x.service or ${BYPASS_CGROUP}; repeatable`,
      },
    },
    body: (p) => ({ mode: mode(p), uids: list(p.values.uid), cgroups: list(p.values.cgroup) }),
    show: showSplit,
  },
  { words: 'split show', op: 'GET /split-tunnel', summary: 'split tunnelling as read back from the kernel', show: showSplit },
  { words: 'split clear', op: 'DELETE /split-tunnel', summary: 'remove split tunnelling', show: () => 'cleared' },
];

/** The cgroup2 mount point from a mountinfo text (fstype after " - "). */
export function cgroup2MountOf(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    const point = before?.split(' ')[4];
    if (after?.split(' ')[0] === 'cgroup2' && point)
      return point.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  }
  return undefined;
}

const exec: CliCommand = {
  words: ['exec'],
  args: '-- <command> [args...]',
  summary: `run a command in the cgroup ${BYPASS_CGROUP} (--bypass) or ${ONLY_VPN_CGROUP} (--only-vpn), which "split set" names`,
  options: {
    bypass: {
      type: 'boolean',
      description: `run in ${BYPASS_CGROUP}: with "split set --exclude --cgroup ${BYPASS_CGROUP}" it bypasses the VPN`,
    },
    'only-vpn': {
      type: 'boolean',
      description: `run in ${ONLY_VPN_CGROUP}: with "split set --include --cgroup ${ONLY_VPN_CGROUP}" only it uses the VPN`,
    },
    cgroup: { type: 'string', value: '<path>', description: 'another cgroup path (below the cgroup2 root) to run in' },
  },
  async run(ctx, p) {
    const [file, ...args] = p.positionals;
    if (!file) throw new UsageError('usage: vpnsvc exec --bypass|--only-vpn -- <command> [args...]');
    const { bypass, cgroup } = p.values;
    const onlyVpn = p.values['only-vpn'];
    if ([bypass, onlyVpn, cgroup].filter((v) => v !== undefined).length !== 1) {
      throw new UsageError('give one of --bypass, --only-vpn or --cgroup <path>');
    }
    const path = typeof cgroup === 'string' ? cgroup : bypass === true ? BYPASS_CGROUP : ONLY_VPN_CGROUP;
    if (!/^(\/[A-Za-z0-9._@:+-]+)+$/.test(path) || path.split('/').some((c) => c === '.' || c === '..')) {
      throw new UsageError(`--cgroup: "${path}" is not a cgroup path such as ${BYPASS_CGROUP}`);
    }
    const mount = cgroup2MountOf(readFileSync('/proc/self/mountinfo', 'utf8'));
    if (!mount) throw new UsageError('this host has no cgroup2 mount (/proc/self/mountinfo): split by program is unavailable');
    // Into the cgroup first, so that the child and every socket it opens are born there.
    try {
      mkdirSync(`${mount}${path}`, { recursive: true });
      writeFileSync(`${mount}${path}/cgroup.procs`, String(process.pid));
    } catch (err) {
      throw new UsageError(
        `cannot move into the cgroup ${mount}${path}: ${(err as Error).message} (root, or a cgroup delegated to you, is needed)`,
      );
    }
    const child = spawn(file, args, { stdio: 'inherit', env: ctx.env });
    const forward = () => child.kill('SIGTERM');
    ctx.signal.addEventListener('abort', forward);
    return new Promise<number>((resolve, reject) => {
      child.on('error', (err) => reject(new UsageError(`cannot run ${file}: ${err.message}`)));
      child.on('exit', (code, signal) => {
        ctx.signal.removeEventListener('abort', forward);
        resolve(code ?? (signal ? 128 : 1));
      });
    });
  },
};

export const splitCommands: CliCommand[] = [...REST.map(restCommand), exec];
