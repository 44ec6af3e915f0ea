import { llamaSource, runnerInfo, type LlamaSourceOptions } from '../llama-runner';
import { ModelManager, type ModelManagerOptions, type ResolvedModel } from '../models';
import type { ModelSource } from '../engine';
import type { ModelLifecycle, ScorerSource } from './index';
import { LlamaScorer } from './teacher';

/**
 * node-llama-cpp for drift: the engine's model source, teacher-forcing scorers and a way to unload
 * every model between quantizations, all over one ModelManager that `unloadAll` replaces (the
 * manager keeps models loaded until it is disposed; resolutions are plain data and stay valid).
 */
export interface LlamaDriftModels {
  source: ModelSource;
  scorers: ScorerSource;
  lifecycle: ModelLifecycle;
  /** The manager in use now. */
  manager(): ModelManager;
  dispose(): Promise<void>;
}

/** Teacher-forcing scorers over a model manager (models it resolved, loaded through it). */
export function llamaScorers(manager: ModelManager | (() => ModelManager)): ScorerSource {
  const get = typeof manager === 'function' ? manager : () => manager;
  return {
    async open(resolved) {
      const native = resolved.native as ResolvedModel | undefined;
      if (!native) throw new Error('this model was not resolved by node-llama-cpp');
      const lease = await get().acquire(native);
      return { scorer: new LlamaScorer(lease, runnerInfo(lease.resolved)), release: () => lease.release() };
    },
  };
}

export function llamaDriftModels(managerOptions: ModelManagerOptions, sourceOptions: LlamaSourceOptions = {}): LlamaDriftModels {
  let manager = new ModelManager(managerOptions);
  let source = llamaSource(manager, sourceOptions);
  const retired: ModelManager[] = [];
  return {
    source: {
      engine: source.engine,
      resolve: (req) => source.resolve(req),
      open: (resolved, o) => source.open(resolved, o),
    },
    scorers: llamaScorers(() => manager),
    lifecycle: {
      async unloadAll() {
        const old = manager;
        if (!old.loadedModels().length) return;
        manager = new ModelManager(managerOptions);
        source = llamaSource(manager, sourceOptions);
        retired.push(old);
        await old.dispose();
      },
    },
    manager: () => manager,
    async dispose() {
      await manager.dispose();
      for (const m of retired) await m.dispose();
    },
  };
}
