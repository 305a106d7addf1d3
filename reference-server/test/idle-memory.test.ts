/**
 * The idle-memory passes (reference-server/src/idle-memory.ts): fullCollection() is a real
 * mark-compact on this Node (on Node 20 an options object makes V8's gc() a scavenge — the bug this
 * guards against), and the passes run when they should: after a quiet period following enough traffic,
 * again once the process has settled, never while a body is open or for a trickle of requests, and
 * the settle pass is called off by new traffic.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { fullCollection, IdleMemory } from '../src/idle-memory.js';

t.test('fullCollection() runs a major (mark-compact) GC, not a scavenge', async (t) => {
  const kinds: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) kinds.push(e.detail?.kind ?? -1);
  });
  obs.observe({ entryTypes: ['gc'] });
  t.ok(fullCollection(), 'a gc function was found (with or without --expose-gc)');
  await sleep(50); // gc entries are delivered asynchronously
  obs.disconnect();
  t.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR), `a major GC was observed (kinds seen: ${kinds.join(',') || 'none'}; V8 ${process.versions.v8})`);
});

/** An IdleMemory with short timings whose passes are recorded instead of run. */
function recorder() {
  const passes: number[] = [];
  const start = Date.now();
  const idle = new IdleMemory({ quietMs: 40, settleMs: 200, minRequests: 5, minBytes: 1000, collect: () => passes.push(Date.now() - start) });
  return { idle, passes };
}

t.test('a quiet pass after a burst, then a settle pass', async (t) => {
  const { idle, passes } = recorder();
  t.teardown(() => idle.stop());
  idle.bodyStarted();
  idle.bodyEnded(5000);
  await sleep(120);
  t.equal(passes.length, 1, 'one pass once the burst went quiet');
  await sleep(300);
  t.equal(passes.length, 2, 'a second pass after the settle period');
  await sleep(300);
  t.equal(passes.length, 2, 'and nothing more while idle');
});

t.test('no pass for a trickle, none while a body is open; traffic calls off the settle pass', async (t) => {
  const { idle, passes } = recorder();
  t.teardown(() => idle.stop());
  idle.noteActivity();
  idle.noteActivity(10);
  await sleep(120);
  t.equal(passes.length, 0, 'two small requests buy no pass');

  idle.bodyStarted(); // a long upload in progress…
  for (let i = 0; i < 10; i++) idle.noteActivity(); // …while other requests come and go
  await sleep(120);
  t.equal(passes.length, 0, 'no pass while a body is being received');
  idle.bodyEnded(5000);
  await sleep(120);
  t.equal(passes.length, 1, 'the pass runs once the body has ended');

  idle.noteActivity(); // traffic inside the settle window
  await sleep(400);
  t.equal(passes.length, 1, 'the settle pass was called off (and one request buys no new pass)');
});
