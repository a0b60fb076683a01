/**
 * vpnsvc bridge: the design's "remote process". Connects to an interface's packet stream,
 * creates a local TUN with the given addresses, and pumps packets both ways until the stream
 * or the process ends (the TUN goes away with it).
 *
 *   vpnsvc bridge --url ws://10.78.0.1:8760/interfaces/tun0/stream --name vsb0 \
 *                 --local 10.77.0.2 --peer 10.77.0.1 [--mtu 1500] [--framing gso|batch|packet]
 *
 * The bearer token comes from $VPNSVC_TOKEN or --token-file (never argv, which `ps` shows).
 * A unix-socket daemon is reached with ws+unix:///run/vpnsvc.sock:/interfaces/tun0/stream.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { FRAMING_BATCH, FRAMING_GSO, FRAMING_PACKET, type Framing, framingOf } from '../dataplane/framing.js';
import { PacketChannel } from '../dataplane/packet-channel.js';
import { openPointToPoint } from '../system/tun.js';

const USAGE = `usage: vpnsvc bridge --url <ws-url> --name <tun> --local <ipv4> --peer <ipv4>
                     [--mtu <n>] [--framing gso|batch|packet] [--token-file <path>] [--ca <pem>] [--mask]
  Token: $VPNSVC_TOKEN, or --token-file. --ca (or $VPNSVC_CA): the CA of a wss:// daemon's
  certificate, when it is not one the system trusts. --framing batch (default) carries several packets per
  message; packet carries one; gso opens the TUN in offload mode and carries super-packets of up
  to 64 KiB (falling back to batch when the daemon does not offer it). --mask uses random WebSocket masking keys (default: a zero key,
  which skips the XOR pass; masking only protects browser-era proxies).`;

export interface BridgeOptions {
  url: string;
  name: string;
  local: string;
  peer: string;
  mtu: number;
  framing: Framing;
  token: string | undefined;
  /** PEM of the CA that signed a wss:// daemon's certificate. */
  ca?: Buffer;
  mask: boolean;
}

export function parseBridgeArgs(argv: string[]): BridgeOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      name: { type: 'string' },
      local: { type: 'string' },
      peer: { type: 'string' },
      mtu: { type: 'string', default: '1500' },
      framing: { type: 'string', default: 'batch' },
      'token-file': { type: 'string' },
      ca: { type: 'string' },
      mask: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) throw new HelpRequested();
  const { url, name, local, peer } = values;
  if (!url || !name || !local || !peer) throw new UsageError('--url, --name, --local and --peer are required');
  const framing = FRAMING_BY_NAME[values.framing ?? 'batch'];
  if (!framing) throw new UsageError('--framing is gso, batch or packet');
  const mtu = Number(values.mtu);
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new UsageError('--mtu is 68..65535');
  let token = process.env.VPNSVC_TOKEN;
  if (values['token-file']) {
    try {
      token = readFileSync(values['token-file'], 'utf8').trim();
    } catch (err) {
      throw new UsageError(
        `cannot read the --token-file ${values['token-file']} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  }
  const caPath = values.ca ?? process.env.VPNSVC_CA;
  let ca: Buffer | undefined;
  if (caPath) {
    try {
      ca = readFileSync(caPath);
    } catch (err) {
      throw new UsageError(`cannot read the --ca ${caPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return {
    url,
    name,
    ...(ca && { ca }),
    local,
    peer,
    mtu,
    framing,
    token,
    mask: values.mask ?? false,
  };
}

const FRAMING_BY_NAME: Record<string, Framing | undefined> = { gso: FRAMING_GSO, batch: FRAMING_BATCH, packet: FRAMING_PACKET };

/** What the bridge offers for its --framing, best first: the daemon picks the first it knows. */
function offerFor(framing: Framing): string[] {
  if (framing === FRAMING_GSO) return [FRAMING_GSO, FRAMING_BATCH];
  return framing === FRAMING_BATCH ? [FRAMING_BATCH] : [];
}

export class UsageError extends Error {}
class HelpRequested extends Error {}

/**
 * Exit codes of `vpnsvc bridge`: 0 the stream ended normally (or --help), 2 usage, 5 the bridge
 * failed (no TUN, the daemon refused or dropped the stream), as the CLI's table says.
 */
export const BRIDGE_EXIT = { ok: 0, usage: 2, failed: 5 } as const;

/** Brings the bridge up; resolves with the close code when the stream ends. */
export function runBridge(
  opts: BridgeOptions,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): {
  done: Promise<number>;
  stop(): void;
} {
  // In offload mode the TUN hands over super-packets; should the daemon answer with another
  // framing, the shim cuts them into plain packets (and gives plain ones an empty header).
  const tun = openPointToPoint(opts.name, opts.local, opts.peer, opts.mtu, opts.framing === FRAMING_GSO);
  const channel = new PacketChannel(tun);
  const ws = new WebSocket(opts.url, offerFor(opts.framing), {
    perMessageDeflate: false,
    maxPayload: 1 << 20,
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
    ...(opts.ca && { ca: opts.ca }),
    ...(opts.mask ? {} : { generateMask: (mask: Buffer) => void mask.fill(0) }),
  });
  let tcp: Socket | undefined;
  ws.on('upgrade', (res) => (tcp = res.socket as Socket));
  ws.on('unexpected-response', (_req, res) => {
    let text = '';
    res.on('data', (d: Buffer) => (text += d.toString()));
    res.on('end', () => {
      log(`bridge: the daemon refused the stream: HTTP ${res.statusCode} ${text}`);
      ws.terminate();
    });
  });
  const done = new Promise<number>((resolve) => {
    ws.on('open', () => {
      const framing = framingOf(ws.protocol);
      const socket = tcp as Socket;
      const stream = channel.attach(
        {
          get bufferedAmount() {
            return ws.bufferedAmount;
          },
          send: (data) => ws.send(data),
          cork: () => socket.cork(),
          uncork: () => socket.uncork(),
        },
        framing,
        () => ws.close(1001, 'bridge stopping'),
      );
      ws.on('message', (data, isBinary) => (isBinary ? stream.receive(data as Buffer) : stream.reject()));
      log(
        `bridge: up ${tun.name} ${opts.local} -> ${opts.peer} mtu ${opts.mtu} framing ${framing}${tun.offload ? ' (TUN in offload mode)' : ''}`,
      );
    });
    ws.on('error', (err) => log(`bridge: ${err.message}`));
    ws.on('close', (code, reason) => {
      channel.close('the stream ended');
      tun.close();
      log(`bridge: stream closed (${code}${reason.length ? ` ${reason.toString()}` : ''}); counters ${JSON.stringify(channel.counters)}`);
      resolve(code);
    });
  });
  return {
    done,
    stop: () => {
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'bridge stopping');
      else ws.terminate();
    },
  };
}

export async function bridgeMain(argv: string[]): Promise<number> {
  let opts: BridgeOptions;
  try {
    opts = parseBridgeArgs(argv);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(`${USAGE}\n`);
      return BRIDGE_EXIT.ok;
    }
    process.stderr.write(`vpnsvc bridge: ${(err as Error).message} (vpnsvc bridge --help)\n`);
    return BRIDGE_EXIT.usage;
  }
  let bridge: ReturnType<typeof runBridge>;
  // One line for the failure that ends the bridge: the first reason seen, not every echo of it.
  let failure: string | undefined;
  const log = (line: string) => {
    if (line.startsWith('bridge: up ')) process.stderr.write(`vpnsvc ${line}\n`);
    else failure ??= line.replace(/^bridge: /, '');
  };
  try {
    bridge = runBridge(opts, log);
  } catch (err) {
    process.stderr.write(`vpnsvc bridge: cannot open the TUN ${opts.name}: ${(err as Error).message}\n`);
    return BRIDGE_EXIT.failed;
  }
  const stop = () => bridge.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const code = await bridge.done;
  if (code === 1000 || code === 1001) return BRIDGE_EXIT.ok;
  process.stderr.write(`vpnsvc bridge: ${failure ?? `the stream closed with code ${code}`}\n`);
  return BRIDGE_EXIT.failed;
}
