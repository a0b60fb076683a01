/**
 * The two-namespace lab of `npm run demo` and `npm run bench`: namespace A holds the daemon,
 * namespace B the bridge, linked by a veth pair. Nothing here touches the host's own network
 * namespace; everything is removed on exit, on failure and on Ctrl-C.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const root = new URL('../..', import.meta.url).pathname;

/**
 * How to run a TypeScript entry point: from src/ through tsx (always current), or the compiled
 * dist/ when `compiled` (what users run; the benchmark builds and uses it).
 */
export function entry(file, compiled) {
  // LAB_NODE_ARGS: extra node flags for the daemon and the bridge, e.g. "--trace-gc".
  const extra = (process.env.LAB_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return [...extra, ...(compiled ? [join(root, 'dist', file.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', join(root, file)])];
}

export const LAB = {
  vethA: 'vslabva',
  vethB: 'vslabvb',
  linkA: '10.78.0.1',
  linkB: '10.78.0.2', // the veth link carrying the WebSocket
  tunA: 'vslab0',
  tunB: 'vslab1',
  tunnelA: '10.77.0.1',
  tunnelB: '10.77.0.2', // the tunnel's ends
  port: 8760,
};

const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

export class TunnelLab {
  constructor(tag, { compiled = false } = {}) {
    this.compiled = compiled;
    this.nsA = `vslab-${tag}-a-${process.pid}`;
    this.nsB = `vslab-${tag}-b-${process.pid}`;
    this.children = new Set();
    this.dir = mkdtempSync(join(tmpdir(), 'vpnsvc-lab-'));
    this.made = false;
    const cleanup = () => this.destroy();
    process.once('exit', cleanup);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, () => process.exit(130));
  }

  create() {
    this.made = true;
    const { nsA, nsB } = this;
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('-n', nsA, 'link', 'set', 'lo', 'up');
    ip('-n', nsB, 'link', 'set', 'lo', 'up');
    ip('-n', nsA, 'link', 'add', LAB.vethA, 'type', 'veth', 'peer', 'name', LAB.vethB, 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', `${LAB.linkA}/24`, 'dev', LAB.vethA);
    ip('-n', nsB, 'addr', 'add', `${LAB.linkB}/24`, 'dev', LAB.vethB);
    ip('-n', nsA, 'link', 'set', LAB.vethA, 'up');
    ip('-n', nsB, 'link', 'set', LAB.vethB, 'up');
  }

  destroy() {
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
    this.children.clear();
    if (this.made) {
      for (const ns of [this.nsA, this.nsB]) {
        try {
          execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
        } catch {
          /* gone */
        }
      }
      this.made = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Starts a long-running process in a namespace; resolves once its output matches `ready`. */
  start(ns, cmd, args, { ready, env = {}, timeoutMs = 20000, echo = false } = {}) {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    child.log = '';
    const onData = (d) => {
      child.log += d;
      if (echo) process.stderr.write(d);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    if (!ready) return Promise.resolve(child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${cmd} not ready after ${timeoutMs} ms:\n${child.log}`)), timeoutMs);
      const check = () => {
        if (ready.test(child.log)) {
          clearTimeout(timer);
          resolve(child);
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${cmd} exited (${code}):\n${child.log}`));
      });
    });
  }

  /** Runs a bounded command in a namespace and returns its stdout. */
  run(ns, cmd, args, timeoutMs = 30000) {
    return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], {
      cwd: root,
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  }

  /**
   * Runs a bounded command in a namespace without blocking the event loop; resolves with its exit
   * code and output whatever happens (killed, by its pid, once `timeoutMs` has passed).
   */
  exec(ns, cmd, args, { timeoutMs = 30000, env = {} } = {}) {
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
        cwd: root,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.children.add(child);
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (err) => {
        stderr += String(err.message);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve({ code, signal, stdout, stderr, timedOut });
      });
    });
  }

  /** A persistent TUN in `ns` with a point-to-point address, for a process that attaches to it by name. */
  addTun(ns, dev, local, peer) {
    this.run(ns, 'ip', ['tuntap', 'add', 'dev', dev, 'mode', 'tun']);
    this.run(ns, 'ip', ['addr', 'add', local, 'peer', peer, 'dev', dev]);
    this.run(ns, 'ip', ['link', 'set', dev, 'up']);
  }

  /** Resolves once `addr` answers a ping sent from `ns`; throws after `tries` one-second attempts. */
  async waitReachable(ns, addr, tries = 15) {
    for (let i = 0; i < tries; i++) {
      const r = await this.exec(ns, 'ping', ['-c', '1', '-W', '1', addr], { timeoutMs: 3000 });
      if (r.code === 0) return;
      await sleep(200);
    }
    throw new Error(`${addr} does not answer from ${ns}`);
  }

  async stop(child) {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }

  /** The daemon in namespace A, listening on the veth. */
  async startDaemon() {
    // The daemon listens on the veth address, where the bridge reaches it; REST calls from this
    // script are made from inside A (see api()).
    const daemon = await this.start(this.nsA, process.execPath, entry('src/server.ts', this.compiled), {
      ready: /"msg":"Server listening/,
      env: { VPNSVC_STATE_DIR: join(this.dir, 'state'), VPNSVC_LISTEN: `${LAB.linkA}:${LAB.port}`, VPNSVC_LOG_LEVEL: 'info' },
    });
    this.daemon = daemon;
    this.token = readFileSync(join(this.dir, 'state', 'admin.token'), 'utf8').trim();
    return daemon;
  }

  /** A REST call to the daemon, made from inside namespace A (curl-free: a tiny node client). */
  api(method, path, body) {
    const script = `
      const body = process.argv[3];
      fetch('http://${LAB.linkA}:${LAB.port}' + process.argv[2], {
        method: process.argv[1], headers: { authorization: 'Bearer ' + process.env.VPNSVC_TOKEN,
        ...(body ? { 'content-type': 'application/json' } : {}) }, body: body || undefined })
      .then(async (r) => { process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })); });`;
    const out = execFileSync(
      'ip',
      ['netns', 'exec', this.nsA, process.execPath, '-e', script, method, path, body ? JSON.stringify(body) : ''],
      {
        env: { ...process.env, VPNSVC_TOKEN: this.token },
        timeout: 15000,
      },
    ).toString();
    const { status, body: text } = JSON.parse(out);
    const parsed = text ? JSON.parse(text) : undefined;
    if (status >= 300) throw new Error(`${method} ${path}: HTTP ${status} ${text}`);
    return parsed;
  }

  /** init + addresses + apply: the tunnel's A end, through the daemon's REST API. */
  /** The daemon's interface, addressed and applied; `offload` opens its TUN in offload mode. */
  createInterface({ offload = false } = {}) {
    this.api('POST', '/interfaces', { name: LAB.tunA, offload });
    this.api('PATCH', `/interfaces/${LAB.tunA}`, { localIp: LAB.tunnelA, remoteIp: LAB.tunnelB });
    return this.api('POST', `/interfaces/${LAB.tunA}/apply`);
  }

  startBridge(framing) {
    return this.start(
      this.nsB,
      process.execPath,
      [
        ...entry('src/cli/main.ts', this.compiled),
        'bridge',
        '--url',
        `ws://${LAB.linkA}:${LAB.port}/interfaces/${LAB.tunA}/stream`,
        '--name',
        LAB.tunB,
        '--local',
        LAB.tunnelB,
        '--peer',
        LAB.tunnelA,
        '--framing',
        framing,
      ],
      { ready: /bridge: up/, env: { VPNSVC_TOKEN: this.token } },
    );
  }
}

export function haveCommand(cmd) {
  return ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin'].some((d) => existsSync(join(d, cmd)));
}

export { sleep };
