/**
 * node:test's spec reporter with a summary that counts what was skipped. Node counts a skipped
 * suite (describe with `skip`, as every kernel suite uses off the test namespace) as neither a
 * test nor a skip, so "skipped 0" could hide a hundred tests that never ran. This reporter
 * rewrites that line to count skipped suites too, and lists the reasons.
 */
import { Readable } from 'node:stream';
import { spec as Spec } from 'node:test/reporters';

export default async function* honestSummary(source) {
  let tests = 0;
  let suites = 0;
  const reasons = new Map();
  const note = (data) => {
    if (data.skip === undefined || data.skip === false) return;
    const isSuite = data.details?.type === 'suite';
    if (isSuite) suites++;
    else tests++;
    const reason = data.skip === true ? 'skipped' : String(data.skip);
    const r = reasons.get(reason) ?? { tests: 0, suites: 0 };
    r[isSuite ? 'suites' : 'tests']++;
    reasons.set(reason, r);
  };
  async function* rewrite() {
    for await (const event of source) {
      if (event.type === 'test:pass' || event.type === 'test:skip' || event.type === 'test:fail') note(event.data);
      if (event.type === 'test:diagnostic' && event.data.nesting === 0 && /^skipped \d+$/.test(event.data.message)) {
        const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;
        const lines = [
          suites ? `skipped ${plural(tests, 'test')} and ${plural(suites, 'whole suite')} (whose tests did not run)` : `skipped ${tests}`,
        ];
        for (const [reason, r] of reasons) {
          lines.push(
            `skipped: ${reason} (${[r.suites && plural(r.suites, 'suite'), r.tests && plural(r.tests, 'test')].filter(Boolean).join(', ')})`,
          );
        }
        for (const message of lines) yield { ...event, data: { ...event.data, message } };
        continue;
      }
      yield event;
    }
  }
  yield* Readable.from(rewrite()).pipe(new Spec());
}
