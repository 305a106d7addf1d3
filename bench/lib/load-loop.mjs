// Runs `fn(i)` with `concurrency` workers until `maxCount` calls have been issued or
// `maxMs` has elapsed, whichever comes first (every loop in the bench is bounded twice).
export async function loadLoop({ concurrency, maxCount, maxMs, fn }) {
  const deadline = performance.now() + maxMs;
  let issued = 0;
  let done = 0;
  async function worker() {
    while (issued < maxCount && performance.now() < deadline) {
      const i = issued++;
      await fn(i);
      done++;
    }
  }
  const workers = [];
  for (let w = 0; w < concurrency; w++) workers.push(worker());
  await Promise.all(workers);
  return done;
}
