// `node --import tsx server/src/runtime/models/measure.ts FILE... [--tokens N] [--reps N]`:
// cold load time and greedy decode speed with 1 and 2 threads (alternating, fresh context each
// run) for each model file, through the model manager. The numbers behind the `threads: 0` rule.
import * as os from 'node:os';
import { DEFAULT_SETTINGS } from '../../settings';
import { disposeSharedLlama, getSharedLlama } from './loader';
import { ModelManager } from './index';
import { measureDecodeSpeed } from './threads';

async function main(argv: string[]): Promise<void> {
  const files: string[] = [];
  let tokens = 32;
  let reps = 3;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--tokens') tokens = Number(argv[++i]);
    else if (a === '--reps') reps = Number(argv[++i]);
    else files.push(a);
  }
  if (files.length === 0) throw new Error('usage: measure.ts FILE... [--tokens N] [--reps N]');
  const out = (s: string): void => void process.stderr.write(`${s}\n`);
  out(`${os.cpus().length} logical CPUs, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  let t = performance.now();
  const llama = await getSharedLlama({ gpu: 'off' });
  out(`getLlama: ${(performance.now() - t).toFixed(0)} ms (cpuMathCores ${llama.cpuMathCores})`);
  const mm = new ModelManager({ settings: { ...DEFAULT_SETTINGS, threads: 2, idleUnloadSeconds: 0 }, workspaceRoot: process.cwd() });
  try {
    for (const file of files) {
      t = performance.now();
      const r = await mm.resolve({ id: 'measure', file });
      const resolveMs = performance.now() - t;
      const h = await mm.acquire(r);
      out(`\n${r.label} (${(r.sizeBytes / 1e6).toFixed(1)} MB): resolve+validate ${resolveMs.toFixed(0)} ms, cold load ${h.loadMs.toFixed(0)} ms`);
      await measureDecodeSpeed(h.model, 1, 4); // warm-up: page the weights in
      const by: Record<number, number[]> = { 1: [], 2: [] };
      const ttft: Record<number, number[]> = { 1: [], 2: [] };
      for (let rep = 0; rep < reps; rep++) {
        for (const threads of [1, 2]) {
          const s = await measureDecodeSpeed(h.model, threads, tokens);
          by[threads]!.push(s.tokensPerSecond);
          ttft[threads]!.push(s.firstTokenMs);
          out(`  rep ${rep} threads ${threads}: prompt ${s.promptTokens} tok + first token ${s.firstTokenMs.toFixed(1)} ms, decode ${s.tokensPerSecond.toFixed(1)} tok/s`);
        }
      }
      for (const th of [1, 2]) {
        const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
        out(`  median threads ${th}: decode ${med(by[th]!).toFixed(1)} tok/s, first token ${med(ttft[th]!).toFixed(1)} ms`);
      }
      h.release();
    }
  } finally {
    await mm.dispose();
    await disposeSharedLlama();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
