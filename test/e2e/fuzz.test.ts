/**
 * The API under fuzzing: schema-driven requests from openapi.yaml (valid and bent, seeded; see
 * test/helpers/fuzz.ts), sent to the real daemon over TCP with a VPN interface up, so routes,
 * DNS and interface settings reach the kernel of the test namespace. Every answer must be in
 * the contract: a status documented for the operation, a body of its schema, no 5xx but the
 * kernel outcomes openapi.yaml documents, no echo of header or query values, and the daemon
 * still serving at the end. A failure prints its seed: FUZZ_SEED=<seed> replays the same run.
 * `npm run fuzz` is the long run (FUZZ_REQUESTS, default 70,000).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { test } from 'node:test';
import { build } from '../helpers/app.js';
import { formatSummary, runFuzz } from '../helpers/fuzz.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

test(`${REQUESTS} fuzzed requests get answers in the contract`, {
  ...kernelTestOptions(),
  timeout: Math.max(180_000, REQUESTS * 20),
}, async (t) => {
  console.log(`# fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS})`);
  // No default route: a block without originalInterface (the fuzzer strips it) is refused.
  const built = await build(t, { defaultRoutes: () => [] });
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = built.app.server.address() as { port: number };
  // The one process whose fds POST /protect may be pointed at: it holds no socket.
  const sleeper = spawn('sleep', ['3600'], { stdio: 'ignore' });
  t.after(() => sleeper.kill());

  const restore = async (): Promise<string> => {
    const [current] = (await built.admin.get('/interfaces').expect(200)).body as Array<{
      name: string;
      up: boolean;
      localIp: string | null;
    }>;
    if (current?.up && current.localIp) return current.name;
    const { name } = (await built.admin.post('/interfaces').send({ name: 'fz0' }).expect(201)).body as { name: string };
    await built.admin.patch(`/interfaces/${name}`).send({ localIp: '198.18.0.1', remoteIp: '198.18.0.2', mtu: 1400 }).expect(200);
    await built.admin.post(`/interfaces/${name}/apply`).expect(200);
    return name;
  };

  const trace = process.env.FUZZ_TRACE;
  const summary = await runFuzz({
    port,
    requests: REQUESTS,
    seed: SEED,
    sleeperPid: sleeper.pid!,
    restore,
    // FUZZ_TRACE=file writes every request and answer of the run, one JSON line each.
    ...(trace && {
      trace: (index, request, sent) =>
        appendFileSync(
          trace,
          `${JSON.stringify({ index, ms: Math.round(sent.ms), ...request, body: request.body?.toString('latin1').slice(0, 300), answer: sent.answer && { ...sent.answer, text: sent.answer.text.slice(0, 300) } })}\n`,
        ),
    }),
  });
  console.log(formatSummary(summary).replace(/^/gm, '# '));

  await built.request.get('/health').expect(200);
  assert.equal(summary.requests, REQUESTS);
  assert.deepEqual(
    summary.violations
      .slice(0, 5)
      .map((v) => `#${v.index} ${v.request.method} ${v.request.path.slice(0, 100)} → ${v.status}: ${v.problems.join('; ')}`),
    [],
    `${summary.violations.length} answers outside the contract (seed ${SEED})`,
  );
  assert.equal(summary.fiveHundreds.undocumented, 0);
});
