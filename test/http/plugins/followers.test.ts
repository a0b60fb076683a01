/**
 * The followers of GET /events: admitted under the caps, in total and per token, each place
 * given back once; the plugin decorates the app with them and ends the open ones when it closes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { DEFAULT_FOLLOWER_LIMITS } from '../../../src/config/config.js';
import { VpnsvcError } from '../../../src/errors/errors.js';
import followersPlugin, { Followers } from '../../../src/http/plugins/followers.js';

const LIMITS = { max: 3, maxPerToken: 2, sseKeepaliveMs: 1000 };

function full(message: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof VpnsvcError && err.kind === 'VPNSVC_ERROR_OUT_OF_MEMORY' && message.test(err.message);
}

test('admitted under the per-token cap and the total cap; a released place is free again, once', () => {
  const followers = new Followers(LIMITS);
  const a1 = followers.admit('a');
  followers.admit('a');
  assert.throws(() => followers.admit('a'), full(/token "a" has 2 event followers, its limit \(VPNSVC_MAX_FOLLOWERS_PER_TOKEN\)/));
  const b1 = followers.admit('b');
  assert.equal(followers.count, 3);
  assert.throws(() => followers.admit('c'), full(/3 event followers are connected, the daemon's limit \(VPNSVC_MAX_FOLLOWERS\)/));

  a1.release();
  a1.release();
  assert.equal(followers.count, 2, 'a second release gives nothing back twice');
  assert.equal(followers.admit('a').token, 'a');
  b1.release();
  assert.throws(() => followers.admit('a'), full(/VPNSVC_MAX_FOLLOWERS_PER_TOKEN/), 'room in total, none for the token');
  assert.equal(followers.admit('c').token, 'c');
});

test('closeAll ends every open follower; one not yet open is skipped', () => {
  const followers = new Followers(LIMITS);
  const ended: string[] = [];
  const open = followers.admit('a');
  open.end = () => ended.push('a');
  followers.admit('b');
  followers.closeAll();
  assert.deepEqual(ended, ['a']);
});

test('the plugin decorates the app with its limits, and ends open followers when the app closes', async () => {
  const app = Fastify();
  await app.register(followersPlugin, { limits: LIMITS });
  await app.ready();
  assert.equal(app.followers.limits, LIMITS);
  let ended = 0;
  app.followers.admit('a').end = () => ended++;
  await app.close();
  assert.equal(ended, 1);

  const plain = Fastify();
  await plain.register(followersPlugin);
  await plain.ready();
  assert.deepEqual(plain.followers.limits, DEFAULT_FOLLOWER_LIMITS);
  await plain.close();
});
