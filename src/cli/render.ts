/** Human-readable output. --json bypasses all of this and prints what the service returned. */

type Json = unknown;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** address/prefix objects print as CIDR. */
function cidr(v: unknown): string | undefined {
  return isObj(v) && typeof v.address === 'string' && typeof v.prefix === 'number' && Object.keys(v).length <= 3
    ? `${v.address}/${v.prefix}`
    : undefined;
}

/** Any JSON as indented "key: value" lines; the fallback for shapes the CLI has no view for. */
export function generic(v: Json, indent = ''): string {
  if (v === undefined || v === null) return `${indent}-`;
  const c = cidr(v);
  if (c) return indent + c;
  if (Array.isArray(v)) {
    if (v.length === 0) return `${indent}(none)`;
    return v
      .map((x) => (isObj(x) && !cidr(x) ? generic(x, `${indent}  `).replace(/^ {2}/, '- ') : `${indent}${scalarOrCidr(x)}`))
      .join('\n');
  }
  if (isObj(v)) {
    return Object.entries(v)
      .map(([k, x]) => {
        if ((isObj(x) && !cidr(x)) || (Array.isArray(x) && x.some((e) => isObj(e) && !cidr(e))))
          return `${indent}${k}:\n${generic(x, `${indent}  `)}`;
        if (Array.isArray(x)) return `${indent}${k}: ${x.length ? x.map(scalarOrCidr).join(', ') : '(none)'}`;
        return `${indent}${k}: ${scalarOrCidr(x)}`;
      })
      .join('\n');
  }
  return indent + String(v);
}

function scalarOrCidr(x: unknown): string {
  return cidr(x) ?? (isObj(x) || Array.isArray(x) ? JSON.stringify(x) : String(x));
}

export function iface(i: Obj): string {
  const c = (i.counters ?? {}) as Obj;
  const num = (k: string) => Number(c[k] ?? 0);
  const lines = [
    `${i.name} (index ${i.index})  ${i.up ? 'UP' : 'down'}  mtu ${i.mtu}  ${i.blocking ? 'blocking' : 'non-blocking'}  session "${i.session}"`,
    `  address ${i.localIp ?? '-'}  peer ${i.remoteIp ?? '-'}`,
    `  rx ${num('rxPackets')} packets, ${bytes(num('rxBytes'))}, ${num('rxDropped')} dropped` +
      `   tx ${num('txPackets')} packets, ${bytes(num('txBytes'))}, ${num('txDropped')} dropped`,
  ];
  const staged = i.staged as Obj | undefined;
  if (staged) {
    const pending = [
      ['mtu', i.mtu],
      ['localIp', i.localIp],
      ['remoteIp', i.remoteIp],
    ]
      .filter(([k, applied]) => staged[k as string] !== null && staged[k as string] !== undefined && staged[k as string] !== applied)
      .map(([k]) => `${k} ${staged[k as string]}`);
    if (pending.length) lines.push(`  staged, not applied: ${pending.join(', ')}  (vpnsvc apply)`);
  }
  const extra = Object.entries(c).filter(([k]) => !/^(rx|tx)(Packets|Bytes|Dropped)$/.test(k));
  if (extra.length) lines.push(`  ${extra.map(([k, v]) => `${k} ${v}`).join('  ')}`);
  return lines.join('\n');
}

export function interfaces(list: Json): string {
  return Array.isArray(list) && list.length ? list.map((i) => iface(i as Obj)).join('\n') : 'no VPN interface is active';
}

/** One event as a terminal line: time, seq, type, interface, reason. */
export function event(e: Obj): string {
  const r = (e.reason ?? {}) as Obj;
  const time = typeof e.time === 'string' ? e.time.slice(11, 23) : '';
  if (e.type === 'hello') return `-- connected: seq ${e.seq}, history from ${e.oldestSeq}`;
  if (e.type === 'events.lost')
    return `-- missed events: the history no longer reaches back to ${(e.data as Obj)?.since}; re-read state with "vpnsvc status"`;
  if (e.type === 'counters') {
    const ifs = ((e.data as Obj)?.interfaces ?? []) as Obj[];
    return `${time} ${'·'.padStart(6)} counters ${
      ifs
        .map((i) => {
          const c = (i.counters ?? i) as Obj;
          return `${i.name}: rx ${c.rxPackets}p/${bytes(Number(c.rxBytes ?? 0))} tx ${c.txPackets}p/${bytes(Number(c.txBytes ?? 0))}`;
        })
        .join('; ') || '(no interface)'
    }`;
  }
  const who = [r.source, r.token && `token ${r.token}`, r.requestId && `req ${r.requestId}`, r.detail].filter(Boolean).join(', ');
  const data = e.data && Object.keys(e.data as Obj).length ? ` ${JSON.stringify(e.data)}` : '';
  return `${time} ${String(e.seq).padStart(6)} ${e.type}${e.interface ? ` ${e.interface}` : ''}${data}  (${who})`;
}
