// Sizes, counts and time bounds of a bench run: `full` (default, < 10 min) and `quick` (~40 s).
const MiB = 1 << 20;

export const PROFILES = {
  full: {
    rounds: 5,
    bigSize: 256 * MiB,
    chunkSize: 16 * MiB,
    bigGets: 2,
    smallSize: 4096,
    smallCount: 64,
    loopMs: 3000,
    c64Max: 50_000,
    putSeqMax: 2000,
    putC16Max: 5000,
    tagCount: 5000,
    repoCount: 1000,
    listMax: 300,
    memSize: 1024 * MiB,
    deadlineMs: 15 * 60_000,
  },
  quick: {
    rounds: 2,
    bigSize: 32 * MiB,
    chunkSize: 8 * MiB,
    bigGets: 2,
    smallSize: 4096,
    smallCount: 64,
    loopMs: 700,
    c64Max: 10_000,
    putSeqMax: 300,
    putC16Max: 1000,
    tagCount: 500,
    repoCount: 100,
    listMax: 50,
    memSize: 128 * MiB,
    deadlineMs: 4 * 60_000,
  },
};

