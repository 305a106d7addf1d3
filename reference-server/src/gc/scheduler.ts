/** Optional periodic GC over the whole registry (`gc.schedule_seconds`). One run at a time; stop() waits for it. */
import type { Logger } from 'pino';
import type { GarbageCollector } from './collector.js';

export interface GcSchedule {
  stop(): Promise<void>;
}

export function startGcSchedule(gc: GarbageCollector, intervalSeconds: number, log?: Logger): GcSchedule {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    // setTimeout after each run, not setInterval: a slow run never overlaps the next.
    timer = setTimeout(() => {
      running = gc
        .run({ principal: 'schedule' })
        .catch((err: unknown) => log?.error({ err }, 'scheduled gc failed'))
        .finally(arm);
    }, intervalSeconds * 1000);
    timer.unref();
  };
  arm();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
