/** The runtime journal on real files, and the stale-TUN reconciler's decisions. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { EventBus } from '../../src/engine/events.js';
import { JOURNAL_FILE, RuntimeJournal, readJournal, staleTunReconciler } from '../../src/recovery/journal.js';
import type { LinkProbe } from '../../src/system/links.js';

function stateDir(t: TestContext): string {
  const dir = fs.mkdtempSync(join(tmpdir(), 'vpnsvc-journal-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the journal follows the interface events, each write a whole new file (mode 0600), and is gone after close', (t) => {
  const dir = stateDir(t);
  const path = join(dir, JOURNAL_FILE);
  const bus = new EventBus();
  const journal = new RuntimeJournal(dir, bus);
  journal.start();
  assert.equal(fs.statSync(path).mode & 0o7777, 0o600);
  const first = readJournal(dir);
  assert.equal(first?.pid, process.pid);
  assert.equal(first?.epoch, bus.epoch);
  assert.deepEqual(first?.interfaces, []);

  const before = fs.statSync(path).ino;
  bus.emit('interface.created', { interface: 'tun0', data: { index: 42, requested: 'tun0' } });
  // A new inode: the file was replaced by rename, not rewritten in place.
  assert.notEqual(fs.statSync(path).ino, before);
  assert.deepEqual(readJournal(dir)?.interfaces, [{ name: 'tun0', index: 42 }]);
  bus.emit('interface.replaced', { interface: 'tun0', data: { index: 43, requested: 'tun0', replaced: 'tun0' } });
  assert.deepEqual(readJournal(dir)?.interfaces, [{ name: 'tun0', index: 43 }]);
  bus.emit('interface.removed', { interface: 'tun0', data: { index: 43 } });
  assert.deepEqual(readJournal(dir)?.interfaces, []);
  assert.deepEqual(fs.readdirSync(dir), [JOURNAL_FILE], 'no temporary file left');

  journal.close();
  assert.equal(fs.existsSync(path), false);
  assert.equal(readJournal(dir), undefined);
  bus.emit('interface.created', { interface: 'tun1', data: { index: 44, requested: 'tun1' } });
  assert.equal(fs.existsSync(path), false, 'no write after close');
  journal.close();
});

test('a journal that does not parse still says the predecessor died', (t) => {
  const dir = stateDir(t);
  fs.writeFileSync(join(dir, JOURNAL_FILE), '{"pid":');
  assert.deepEqual(readJournal(dir), { pid: 0, startedAt: '', epoch: '', interfaces: [] });
});

test('only a link with the recorded name, index and TUN type is removed', async () => {
  const links = new Map([
    ['vs0', { index: 10, tun: true }],
    ['vs1', { index: 99, tun: true }],
    ['vs2', { index: 12, tun: false }],
  ]);
  const removed: string[] = [];
  const probe: LinkProbe = {
    index: (name) => links.get(name)?.index,
    isTun: async (name) => links.get(name)?.tun ?? false,
    remove: async (name) => void removed.push(name),
  };
  const previous = {
    pid: 1,
    startedAt: '',
    epoch: '',
    interfaces: [
      { name: 'vs0', index: 10 },
      { name: 'vs1', index: 11 },
      { name: 'vs2', index: 12 },
      { name: 'vs3', index: 13 },
    ],
  };
  const report = await staleTunReconciler(probe).run(previous);
  assert.deepEqual(removed, ['vs0']);
  assert.deepEqual(report.did, ['removed the stale TUN vs0']);
  assert.equal(report.found.length, 4);
  assert.match(report.found[3] ?? '', /vs3 \(index 13\) is gone/);
});
