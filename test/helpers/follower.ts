/** Event followers for tests: a WebSocket client that collects messages, and an SSE reader. */
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';

export interface Msg {
  type: string;
  seq: number;
  epoch: string;
  interface?: string;
  reason?: Record<string, unknown>;
  data?: Record<string, any>;
  [k: string]: unknown;
}

export interface WsFollower {
  ws: WebSocket;
  messages: Msg[];
  closed: Promise<{ code: number; reason: string }>;
  /** Waits (bounded) until `pred` holds for the messages so far. */
  until(pred: (m: Msg[]) => boolean, ms?: number): Promise<Msg[]>;
  close(): void;
}

export async function wsFollow(url: string, token: string, opts: WebSocket.ClientOptions = {}): Promise<WsFollower> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, ...opts });
  const messages: Msg[] = [];
  let wake: (() => void) | undefined;
  ws.on('message', (d) => {
    messages.push(JSON.parse(String(d)) as Msg);
    wake?.();
  });
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.once('close', (code, reason) => r({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    messages,
    closed,
    async until(pred, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!pred(messages)) {
        if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(messages.map((m) => m.type))}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
      return messages;
    },
    close: () => ws.close(),
  };
}

export interface SseFollower {
  status: number;
  headers: IncomingHttpHeaders;
  /** Waits (bounded) until `pred` holds for the text so far; returns all of it. */
  until(pred: (text: string) => boolean, ms?: number): Promise<string>;
  ended: Promise<void>;
  close(): void;
}

/** An SSE follower over node:http (fetch's pool keeps a spare connection that delays server close). */
export function sseFollow(url: string, headers: Record<string, string>, socketPath?: string): Promise<SseFollower> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers: { accept: 'text/event-stream', ...headers }, ...(socketPath && { socketPath }) }, (res) => {
      let text = '';
      let wake: (() => void) | undefined;
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        wake?.();
      });
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        ended,
        async until(pred, ms = 5000) {
          const deadline = Date.now() + ms;
          while (!pred(text)) {
            if (Date.now() > deadline) throw new Error(`timed out; SSE so far:\n${text}`);
            await new Promise<void>((r) => {
              wake = r;
              setTimeout(r, 50);
            });
          }
          return text;
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

export function sseEvents(text: string): Msg[] {
  return text.split('\n\n').flatMap((block) => {
    const data = block.split('\n').find((l) => l.startsWith('data: '));
    return data ? [JSON.parse(data.slice(6)) as Msg] : [];
  });
}
