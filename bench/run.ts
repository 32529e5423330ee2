// `npm run bench`: every benchmark, one JSON line per figure. `npm run bench -- ingest` runs one.
import { benchAccounting } from './accounting.js';
import { benchCycle } from './cycle.js';
import { benchIngest } from './ingest.js';
import { benchMemory } from './memory.js';

const benches: Record<string, () => Promise<void> | void> = {
  ingest: () => benchIngest(),
  accounting: () => benchAccounting(),
  cycle: () => benchCycle(),
  memory: () => benchMemory(),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  for (const name of wanted.length ? wanted : Object.keys(benches)) {
    const bench = benches[name];
    if (!bench) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
    await bench();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
