#!/usr/bin/env node
/** The daemon's entry point: src/daemon/lifecycle.ts runs it, src/daemon/compose.ts builds it. */
import { packageVersion } from './config/version.js';
import { runDaemon } from './daemon/lifecycle.js';
import { DAEMON_EXIT } from './daemon/start-failure.js';

const HELP = `usage: vpnsvc-daemon [--help] [--version]

The vpnsvc daemon: serves the Tizen VPN Service API over HTTP and WebSocket until SIGTERM or
SIGINT. Every setting is an environment variable (README "Configuration"), for example:
  VPNSVC_LISTEN      host:port, [ipv6]:port or unix:/path   (default 127.0.0.1:8760)
  VPNSVC_STATE_DIR   tokens and the recovery journal        (default /var/lib/vpnsvc)
  VPNSVC_TLS_CERT, VPNSVC_TLS_KEY   PEM files: HTTPS and WSS
  VPNSVC_DNS_BACKEND resolved | resolvconf | file (default: detected)   VPNSVC_LOG_LEVEL info, debug, ...
Under systemd (Type=notify) it sends READY=1 once it listens.

exit codes:
  ${DAEMON_EXIT.ok}  stopped cleanly
  ${DAEMON_EXIT.failed}  could not run: native shim missing, another daemon on the state directory, slow shutdown
  ${DAEMON_EXIT.config}  bad configuration: a VPNSVC_* value, a TLS or token file, an unsafe state directory
  ${DAEMON_EXIT.listen}  cannot listen: address in use, not this host's, or not permitted
  ${DAEMON_EXIT.stateDir}  the state directory cannot be created or written (run as root or set VPNSVC_STATE_DIR)`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`${HELP}\n`);
} else if (args.includes('--version') || args.includes('-V')) {
  process.stdout.write(`vpnsvc-daemon ${packageVersion()}\n`);
} else if (args.length > 0) {
  process.stderr.write(
    `vpnsvc-daemon: unknown argument "${args[0]}": settings are VPNSVC_* environment variables (vpnsvc-daemon --help)\n`,
  );
  process.exitCode = DAEMON_EXIT.config;
} else {
  void runDaemon();
}
