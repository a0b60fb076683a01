/** Defaults shared by the daemon's configuration and the CLI (which must start fast: no env-schema). */
export const DEFAULT_LISTEN = '127.0.0.1:8760';
export const DEFAULT_STATE_DIR = '/var/lib/vpnsvc';
