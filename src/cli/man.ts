/** vpnsvc(1), in roff, from the same command table as --help (written at build time). */
import type { CliCommand, CliOption } from './command.js';
import { EXIT, GLOBAL_OPTIONS, TOKEN_ORDER } from './program.js';

/** roff-escapes text: backslashes, and a leading dot or quote that would read as a request. */
function esc(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');
}

function option(name: string, o: CliOption): string {
  const flag = `${o.short ? `\\fB\\-${o.short}\\fR, ` : ''}\\fB${esc(`--${name}`)}\\fR${o.type === 'string' ? ` \\fI${esc(o.value ?? '<value>')}\\fR` : ''}`;
  return `.TP\n${flag}\n${esc(o.description ?? '')}${o.multiple ? ' (repeatable)' : ''}`;
}

export function manPage(commands: CliCommand[], version: string, serviceExits: Record<string, number>, date: string): string {
  const lines = [
    `.TH VPNSVC 1 "${date}" "vpnsvc ${version}" "vpnsvc manual"`,
    '.SH NAME',
    'vpnsvc \\- command\\-line client of the vpnsvc daemon (Tizen VPN Service API)',
    '.SH SYNOPSIS',
    '.B vpnsvc',
    '[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIarguments\\fR] [\\fIoptions\\fR]',
    '.br',
    '.B vpnsvc \\-\\-version',
    '.br',
    '.B vpnsvc completion bash\\fR|\\fBzsh',
    '.SH DESCRIPTION',
    esc(
      'vpnsvc talks to the vpnsvc daemon over HTTP (TCP, TLS or a unix socket). Each command drives one or a few REST operations; ' +
        'the daemon serves the 21 functions of the Tizen VPN Service API. Without --url and a token the CLI finds a daemon on this host ' +
        'the way the daemon itself is configured (VPNSVC_LISTEN, VPNSVC_STATE_DIR).',
    ),
    '.SH GLOBAL OPTIONS',
    ...Object.entries(GLOBAL_OPTIONS).map(([n, o]) => option(n, o)),
    '.TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nhelp for vpnsvc or a command',
    '.TP\n\\fB\\-V\\fR, \\fB\\-\\-version\\fR\nprint the version',
    '.SH COMMANDS',
  ];
  for (const c of commands) {
    lines.push(`.SS ${esc(`${c.words.join(' ')}${c.args ? ` ${c.args}` : ''}`)}`, esc(c.summary));
    if (c.operations) lines.push('.br', `REST: ${esc(c.operations.join(', '))}`);
    for (const [n, o] of Object.entries(c.options ?? {})) lines.push(option(n, o));
  }
  lines.push(
    '.SH ENVIRONMENT',
    '.TP\n\\fBVPNSVC_URL\\fR\nthe daemon, as \\-\\-url',
    ".TP\n\\fBVPNSVC_LISTEN\\fR, \\fBVPNSVC_TLS_CERT\\fR\nthe daemon's own listen address (and https when a certificate is set), used when VPNSVC_URL is not",
    '.TP\n\\fBVPNSVC_TOKEN\\fR, \\fBVPNSVC_TOKEN_FILE\\fR, \\fBVPNSVC_ADMIN_TOKEN_FILE\\fR\na token, or a file holding one',
    ".TP\n\\fBVPNSVC_STATE_DIR\\fR\nthe daemon's state directory, whose admin.token is the last resort (default /var/lib/vpnsvc)",
    '.TP\n\\fBVPNSVC_CA\\fR\na PEM CA, as \\-\\-ca',
    '.SH FILES',
    '.TP\n\\fI/var/lib/vpnsvc/admin.token\\fR\nthe admin token the daemon makes at its first start (root only)',
    '.SH TOKEN',
    esc(`The first of: ${TOKEN_ORDER}.`),
    '.SH EXIT STATUS',
    ...[
      [EXIT.ok, 'done'],
      [EXIT.failed, 'any other failure'],
      [EXIT.usage, 'usage: an unknown command or option, a bad argument (nothing was sent)'],
      [EXIT.unreachable, 'the daemon cannot be reached (or its TLS certificate is not trusted)'],
      [EXIT.localFile, 'a file the CLI needs (token, CA, packet, tokens.json) cannot be read'],
      [EXIT.bridge, 'vpnsvc bridge failed: no TUN, or the daemon refused or dropped the stream'],
      [EXIT.active, 'vpnsvc up refused: a VPN interface is active and \\-\\-replace was not given'],
      ...Object.entries(serviceExits).map(([name, code]) => [code, `the service answered ${name}`] as const),
    ].map(([code, what]) => `.TP\n\\fB${code}\\fR\n${String(what).includes('\\') ? what : esc(String(what))}`),
    '.SH SEE ALSO',
    '\\fBvpnsvc\\-daemon \\-\\-help\\fR (the daemon, its settings and exit codes), the README of the vpnsvc checkout',
  );
  return `${lines.join('\n')}\n`;
}
