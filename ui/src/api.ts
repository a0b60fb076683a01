/**
 * The console's REST client: openapi-fetch over the types generated from openapi.yaml, so a
 * change of the contract that the console does not follow fails its build. Requests carry the
 * session cookie (same origin); the token is sent once, to /auth/login, and never kept.
 */

import privileges from 'virtual:privileges';
import createClient from 'openapi-fetch';
import type { components, operations, paths } from '../../src/generated/api';

export type Schemas = components['schemas'];
export type OperationId = keyof operations;

/** The daemon's root, relative to this page (/ui/), so the console works behind any host name or tunnel. */
export const API_ROOT = new URL('../', document.baseURI);

export const api = createClient<paths>({ baseUrl: API_ROOT.href.replace(/\/$/, ''), credentials: 'same-origin' });

/** An error the API answered, with the seed's name (VPNSVC_ERROR_*) and its message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Schemas['Error'],
  ) {
    super(`${body.error}: ${body.message}`);
  }
}

/** Listeners told when any call answers 401: the session has ended. */
const signedOut = new Set<() => void>();
export function onSignedOut(listener: () => void): () => void {
  signedOut.add(listener);
  return () => signedOut.delete(listener);
}

function isErrorBody(x: unknown): x is Schemas['Error'] {
  return typeof x === 'object' && x !== null && typeof (x as Schemas['Error']).error === 'string';
}

/** The call's data, or an ApiError (a network failure becomes VPNSVC_ERROR_IPC_FAILED). */
export async function call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await pending;
  } catch (err) {
    throw new ApiError(0, {
      error: 'VPNSVC_ERROR_IPC_FAILED',
      code: -30081022,
      message: `the daemon cannot be reached (${(err as Error).message})`,
    });
  }
  const { data, error, response } = result;
  if (response.ok) return data as T;
  if (response.status === 401) for (const listener of signedOut) listener();
  if (isErrorBody(error)) throw new ApiError(response.status, error);
  throw new ApiError(response.status, { error: 'VPNSVC_ERROR_IO_ERROR', code: -5, message: `HTTP ${response.status}` });
}

/** Why this token cannot run an operation, or undefined when it can (the spec's x-vpnsvc-privileges). */
export function refusal(me: Schemas['AuthSession'] | undefined, operation: OperationId): string | undefined {
  if (!me) return 'not signed in';
  const missing = (privileges[operation] ?? []).filter((p) => !(me.privileges as string[]).includes(p));
  if (missing.length === 0) return undefined;
  return `token "${me.tokenId}" is read-only here: it lacks the ${missing.join(' and ')} privilege${missing.length > 1 ? 's' : ''}`;
}

/** ws:// or wss:// for a path of the daemon. */
export function webSocketUrl(pathAndQuery: string): string {
  const url = new URL(pathAndQuery.replace(/^\//, ''), API_ROOT);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}
