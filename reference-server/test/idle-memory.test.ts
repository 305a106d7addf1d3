/**
 * The idle-memory passes (reference-server/src/idle-memory.ts): fullCollection() is a real
 * mark-compact on this Node (on Node 20 an options object makes V8's gc() a scavenge — the bug this
 * guards against), and the passes run when they should: after a quiet period following enough traffic,
 * again once the process has settled, never while a body is open or for a trickle of requests, and
 * the settle pass is called off by new traffic. The scheduling tests run on a manual clock: they assert
 * order and counts, never what a busy machine's timers manage in some window.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { fullCollection, IdleMemory, type Schedule } from '../src/idle-memory.js';

t.test('fullCollection() runs a major (mark-compact) GC, not a scavenge', async (t) => {
  const kinds: number[] = [];
  let delivered!: () => void;
  const firstBatch = new Promise<void>((r) => (delivered = r));
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) kinds.push(e.detail?.kind ?? -1);
    delivered();
  });
  obs.observe({ entryTypes: ['gc'] });
  t.ok(fullCollection(), 'a gc function was found (with or without --expose-gc)');
  // gc entries are delivered asynchronously; the 10 s bound only turns "never" into a failure.
  await Promise.race([firstBatch, sleep(10_000, undefined, { ref: false })]);
  obs.disconnect();
  t.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR), `a major GC was observed (kinds seen: ${kinds.join(',') || 'none'}; V8 ${process.versions.v8})`);
});

/** A manual clock: timers fire only when the test advances it, in due order — no real time involved. */
function manualClock() {
  let now = 0;
  const timers = new Set<{ due: number; ms: number; fn: () => void }>();
  const schedule: Schedule = (fn, ms) => {
    const timer = { due: now + ms, ms, fn };
    timers.add(timer);
    return { refresh: () => void (timer.due = now + timer.ms), cancel: () => void timers.delete(timer) };
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      const next = [...timers].filter((x) => x.due <= until).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      timers.delete(next);
      now = next.due;
      next.fn();
    }
    now = until;
  };
  return { schedule, advance, pending: () => timers.size };
}

/** An IdleMemory on a manual clock whose passes are recorded (at their clock time) instead of run. */
function recorder() {
  const clock = manualClock();
  const passes: number[] = [];
  let at = 0;
  const idle = new IdleMemory({ quietMs: 1000, settleMs: 6000, minRequests: 5, minBytes: 1000, collect: () => passes.push(at), schedule: clock.schedule });
  const advance = (ms: number) => {
    clock.advance(ms);
    at += ms;
  };
  return { idle, passes, advance, pending: clock.pending };
}

t.test('a quiet pass after a burst, then a settle pass', (t) => {
  const { idle, passes, advance, pending } = recorder();
  idle.bodyStarted();
  idle.bodyEnded(5000);
  advance(999);
  t.equal(passes.length, 0, 'nothing before the quiet period is over');
  advance(1);
  t.equal(passes.length, 1, 'one pass once the burst went quiet for quietMs');
  advance(5999);
  t.equal(passes.length, 1, 'the settle pass waits settleMs');
  advance(1);
  t.equal(passes.length, 2, 'a second pass after the settle period');
  advance(60_000);
  t.equal(passes.length, 2, 'and nothing more while idle');
  t.equal(pending(), 0, 'no timer left behind');
  t.end();
});

t.test('traffic restarts the quiet period', (t) => {
  const { idle, passes, advance } = recorder();
  idle.bodyStarted();
  idle.bodyEnded(5000);
  advance(800);
  idle.noteActivity();
  advance(800);
  t.equal(passes.length, 0, 'a request 800 ms in restarts the wait');
  advance(200);
  t.equal(passes.length, 1, 'the pass runs quietMs after the last request');
  t.end();
});

t.test('no pass for a trickle, none while a body is open; traffic calls off the settle pass', (t) => {
  const { idle, passes, advance, pending } = recorder();
  idle.noteActivity();
  idle.noteActivity(10);
  advance(2000);
  t.equal(passes.length, 0, 'two small requests buy no pass');

  idle.bodyStarted(); // a long upload in progress…
  for (let i = 0; i < 10; i++) idle.noteActivity(); // …while other requests come and go
  advance(2000);
  t.equal(passes.length, 0, 'no pass while a body is being received');
  idle.bodyEnded(5000);
  advance(1000);
  t.equal(passes.length, 1, 'the pass runs once the body has ended');

  advance(3000);
  idle.noteActivity(); // traffic inside the settle window
  advance(60_000);
  t.equal(passes.length, 1, 'the settle pass was called off (and one request buys no new pass)');
  t.equal(pending(), 0, 'no timer left behind');
  t.end();
});

t.test('stop() drops pending passes', (t) => {
  const { idle, passes, advance, pending } = recorder();
  idle.bodyStarted();
  idle.bodyEnded(5000);
  idle.stop();
  advance(60_000);
  t.equal(passes.length, 0, 'no pass after stop()');
  t.equal(pending(), 0, 'no timer pending');
  t.end();
});
