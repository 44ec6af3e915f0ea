/**
 * Driving VS Code's workbench through its DOM with Playwright: open a file, run a command, read the
 * Problems panel, find squiggles, code lenses, the status bar and notifications. Every wait has a
 * deadline and polls the page; nothing sleeps for a fixed time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CONTRACTS_E2E_CHROMIUM ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes; the error says what was awaited and what was last seen. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, lastSeen?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let error: unknown;
  for (let delay = 50; ; delay = Math.min(500, delay * 2)) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      error = e;
    }
    if (Date.now() > deadline) {
      const seen = lastSeen ? await lastSeen().catch((e: unknown) => `(could not read: ${String(e)})`) : undefined;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen ? `; last seen: ${seen}` : ''}${error ? `; last error: ${String(error)}` : ''}`);
    }
    // Polling interval, not a synchronization sleep: the probe above decides when we are done.
    await new Promise((r) => setTimeout(r, delay));
  }
}

export class Workbench {
  constructor(readonly page: Page) {}

  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await this.page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 60_000 });
  }

  /** Quick Open (Ctrl+P) a workspace-relative path; resolves once its editor is active. */
  async openFile(relativePath: string): Promise<void> {
    const name = path.basename(relativePath);
    await this.quickInput('Control+p', relativePath);
    // Click the row that is exactly this file: Enter would take the best fuzzy match, which may be another.
    const row = this.page.locator('.quick-input-list .monaco-list-row', { has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }) }).first();
    await row.waitFor({ timeout: 15_000 });
    await row.click();
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
    await this.page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 15_000 });
    await this.editor().locator('.view-lines .view-line').first().waitFor({ timeout: 15_000 });
  }

  /** Moves the cursor of the active editor to a 1-based line (and column) with Ctrl+G, which scrolls it into view. */
  async gotoLine(line: number, column?: number): Promise<void> {
    await this.quickInput('Control+g', column ? `:${line}:${column}` : `:${line}`);
    await this.page.keyboard.press('Enter');
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
  }

  /** Runs a command by its palette title (exact label match). */
  async runCommand(title: string): Promise<void> {
    await this.quickInput('F1', `>${title}`);
    const row = this.page.locator('.quick-input-list .monaco-list-row', { has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) }).first();
    await row.waitFor({ timeout: 15_000 });
    await row.click();
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
  }

  private async quickInput(shortcut: string, text: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await this.page.keyboard.press(shortcut);
    await input.waitFor({ timeout: 10_000 });
    await input.fill(text);
  }

  /** Text of the Problems panel (opened if needed), one line per row as VS Code labels them. */
  async problems(): Promise<string> {
    const panel = this.page.locator('.markers-panel');
    if (!(await panel.isVisible())) await this.runCommand('View: Focus Problems (Errors, Warnings, Infos)');
    await panel.waitFor({ timeout: 10_000 });
    const rows = await panel.locator('.monaco-list-row').evaluateAll((els) => els.map((e) => (e as DomElement).innerText.replace(/\s+/g, ' ').trim()));
    return rows.join('\n');
  }

  /** Expands every file in the Problems panel so each marker is a row. */
  async expandProblems(): Promise<void> {
    const collapsed = this.page.locator('.markers-panel .monaco-list-row[aria-expanded="false"]');
    for (let i = await collapsed.count(); i > 0; i--) await collapsed.first().click();
  }

  /** 1-based line numbers of the active editor that carry a squiggle of the given kinds. */
  async squiggleLines(kinds: ('error' | 'warning' | 'info')[] = ['error', 'warning', 'info']): Promise<number[]> {
    const editor = this.editor();
    return editor.evaluate((el, kinds) => {
      const root = el as unknown as DomElement;
      const lines = new Set<number>();
      const numbers = [...root.querySelectorAll('.margin-view-overlays .line-numbers')].map((el) => ({ top: el.getBoundingClientRect().top, bottom: el.getBoundingClientRect().bottom, n: Number(el.textContent) }));
      for (const kind of kinds) {
        for (const sq of root.querySelectorAll(`.view-overlays .squiggly-${kind}`)) {
          const mid = (sq.getBoundingClientRect().top + sq.getBoundingClientRect().bottom) / 2;
          const hit = numbers.find((l) => l.top <= mid && mid <= l.bottom);
          if (hit) lines.add(hit.n);
        }
      }
      return [...lines].sort((a, b) => a - b);
    }, kinds);
  }

  /** The text of a 1-based line of the active editor (as rendered). */
  async lineText(line: number): Promise<string> {
    const editor = this.editor();
    return editor.evaluate((el, line) => {
      const root = el as unknown as DomElement;
      const num = [...root.querySelectorAll('.margin-view-overlays .line-numbers')].find((el) => Number(el.textContent) === line);
      if (!num) return '';
      const mid = (num.getBoundingClientRect().top + num.getBoundingClientRect().bottom) / 2;
      const view = [...root.querySelectorAll('.view-lines .view-line')].find((el) => el.getBoundingClientRect().top <= mid && mid <= el.getBoundingClientRect().bottom);
      return (view?.textContent ?? '').replace(/\u00a0/g, ' ');
    }, line);
  }

  /** The rendered tokens of a 1-based line of the active editor: text and CSS colour of each span. */
  async lineTokens(line: number): Promise<{ text: string; color: string }[]> {
    return this.editor().evaluate((el, line) => {
      const root = el as unknown as DomElement;
      const num = [...root.querySelectorAll('.margin-view-overlays .line-numbers')].find((e) => Number(e.textContent) === line);
      if (!num) return [];
      const mid = (num.getBoundingClientRect().top + num.getBoundingClientRect().bottom) / 2;
      const view = [...root.querySelectorAll('.view-lines .view-line')].find((e) => e.getBoundingClientRect().top <= mid && mid <= e.getBoundingClientRect().bottom);
      if (!view) return [];
      const g = globalThis as unknown as { getComputedStyle(e: DomElement): { color: string } };
      return [...view.querySelectorAll('span > span')].map((s) => ({ text: (s.textContent ?? '').replace(/\u00a0/g, ' '), color: g.getComputedStyle(s).color }));
    }, line);
  }

  /** Hovers the first squiggle on a 1-based line and returns the hover's text. */
  async hoverSquiggle(line: number): Promise<string> {
    const editor = this.editor();
    const box = await editor.evaluate((el, line) => {
      const root = el as unknown as DomElement;
      const num = [...root.querySelectorAll('.margin-view-overlays .line-numbers')].find((el) => Number(el.textContent) === line);
      if (!num) return undefined;
      const mid = (num.getBoundingClientRect().top + num.getBoundingClientRect().bottom) / 2;
      const sq = [...root.querySelectorAll('.view-overlays [class*="squiggly-"]')].find((el) => el.getBoundingClientRect().top <= mid && mid <= el.getBoundingClientRect().bottom);
      const r = sq?.getBoundingClientRect();
      return r ? { x: r.left + Math.min(r.width / 2, 20), y: mid } : undefined;
    }, line);
    if (!box) throw new Error(`no squiggle on line ${line}`);
    await this.page.mouse.move(box.x, box.y);
    const hover = this.page.locator('.monaco-hover:not(.hidden) .hover-contents, .monaco-hover:not(.hidden) .marker.hover-contents').first();
    await hover.waitFor({ timeout: 10_000 });
    return (await this.page.locator('.monaco-hover:not(.hidden)').first().innerText()).trim();
  }

  /** TextMate scopes at the cursor, from "Developer: Inspect Editor Tokens and Scopes". */
  async inspectScopes(): Promise<string> {
    await this.runCommand('Developer: Inspect Editor Tokens and Scopes');
    const widget = this.page.locator('.token-inspect-widget');
    await widget.waitFor({ timeout: 10_000 });
    const text = await until('the token inspector to show scopes', async () => {
      const t = await widget.innerText();
      return /textmate scopes/i.test(t) ? t : undefined;
    }, 10_000);
    await this.page.keyboard.press('Escape');
    return text;
  }

  /** The status bar items' texts. */
  async statusBarTexts(): Promise<string[]> {
    return this.page.locator('#workbench\\.parts\\.statusbar .statusbar-item').evaluateAll((els) => els.map((e) => (e.textContent ?? '').trim()).filter(Boolean));
  }

  statusItem(text: RegExp): Locator {
    return this.page.locator('#workbench\\.parts\\.statusbar .statusbar-item', { hasText: text }).first();
  }

  /** Editor language shown in the status bar ("Prompt Contract", "YAML"). */
  async editorLanguage(): Promise<string> {
    return (await this.page.locator('#status\\.editor\\.mode').innerText()).trim();
  }

  /** The active editor (other editors' DOM stays in the page, hidden). */
  editor(): Locator {
    return this.page.locator('.editor-instance .monaco-editor').filter({ visible: true }).first();
  }

  codeLens(title: string | RegExp): Locator {
    return this.editor().locator('.codelens-decoration a', { hasText: title }).filter({ visible: true });
  }

  /** Texts of the notification toasts on screen. */
  async notifications(): Promise<string[]> {
    return this.page.locator('.notification-toast-container .notification-list-item').evaluateAll((els) => els.map((e) => (e as DomElement).innerText.trim()));
  }

  async screenshot(dir: string, name: string): Promise<string> {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }
}

/** The little of the DOM the page-side callbacks use (the repository compiles without lib "dom"). */
interface DomElement {
  textContent: string | null;
  innerText: string;
  getBoundingClientRect(): { top: number; bottom: number; left: number; width: number };
  querySelectorAll(selector: string): Iterable<DomElement>;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
