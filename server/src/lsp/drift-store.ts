import type { CheckResult } from '../core/check';
import { driftView, type BaselineViewData, type DriftViewData } from '../core/drift-view';

/**
 * The last quantization comparison of each document, for lenses, diagnostics and hovers. It holds
 * only for the exact text it was made from: any edit drops it (never shown as current).
 */
export class DriftStore {
  private readonly byUri = new Map<string, { text: string; drift: DriftViewData; baseline?: BaselineViewData }>();

  set(uri: string, text: string, drift: DriftViewData, baseline?: BaselineViewData): void {
    this.byUri.set(uri, { text, drift, ...(baseline ? { baseline } : {}) });
  }

  viewOf(uri: string, check: CheckResult): ReturnType<typeof driftView> | undefined {
    const e = this.byUri.get(uri);
    if (!e || e.text !== check.text) return undefined;
    return driftView(check, e.drift, e.baseline);
  }

  delete(uri: string): void {
    this.byUri.delete(uri);
  }
}
