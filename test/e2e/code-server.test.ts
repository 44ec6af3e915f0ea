/**
 * Prompt Contracts in a real VS Code: code-server 4.100.3 (VS Code 1.100.3) with the packaged .vsix
 * installed offline, driven by Playwright in Debian's chromium. `npm run test:e2e` sets it up
 * (scripts/e2e-setup.sh), packages the .vsix and runs this file.
 *
 * Screenshots and logs of every run go to .e2e/artifacts/<run>/.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { ensureSpecialistTestModels, ensureTestModels } from '../support/models';
import { ARTIFACTS, extensionHostLogs, languageServerPids, REPO, startCodeServer, type CodeServer } from './support/code-server';
import { launchBrowser, until, Workbench } from './support/workbench';
import { bundleSuite } from './vscode/bundle';
import type { ScenarioResult } from './vscode/suite';
import { firstExample, firstPlaceholder, markersOf, RUN_SAMPLE, UI_BROKEN_SAMPLES, VERDICT_WITH_LATENCY } from './expectations';

/** A marker row of the Problems panel as rendered: `… contracts(unknown-key) [Ln 6, Col 3]` (the parentheses are CSS). */
function problemRow(code: string, line: number): RegExp {
  return new RegExp(`contracts\\s*\\(?${code}\\)?\\s*\\[Ln ${line + 1},`);
}

const RUN_DIR = path.join(ARTIFACTS, new Date().toISOString().replace(/[:.]/g, '-'));
const samples = path.join(REPO, 'samples');

describe('Prompt Contracts in code-server', () => {
  let server: CodeServer;
  let browser: Browser;
  let wb: Workbench;
  const timings: Record<string, number> = {};
  const t0 = Date.now();

  before(async () => {
    // A real (tiny, random-weight) GGUF, so a wired runtime has something to run and answers fast.
    const models = await ensureTestModels();
    // The in-host suite (what `npm run test:vscode` runs) comes along as a helper extension.
    const { hostExtensionVsix } = await bundleSuite();
    server = await startCodeServer({ settings: { 'contracts.modelFile': models.tiny.Q8_0, 'contracts.threads': 1 }, extraExtensions: [hostExtensionVsix] });
    // The trained tiny specialist, where samples/specialist-triage.contract.yaml looks for it
    // (model.file: ../.cache/models/specialist-triage-{quant}.gguf, next to the workspace copy).
    const specialist = await ensureSpecialistTestModels();
    fs.mkdirSync(path.join(server.root, '.cache', 'models'), { recursive: true });
    for (const f of Object.values(specialist)) fs.copyFileSync(f, path.join(server.root, '.cache', 'models', path.basename(f)));
    timings.codeServerMs = Date.now() - t0;
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    wb = new Workbench(page);
    await wb.open(server.url);
    timings.workbenchMs = Date.now() - t0;
  });

  after(async () => {
    fs.mkdirSync(RUN_DIR, { recursive: true });
    if (wb) await wb.screenshot(RUN_DIR, 'zz-last').catch(() => undefined);
    await browser?.close();
    if (server) {
      fs.writeFileSync(path.join(RUN_DIR, 'code-server.log'), server.log());
      for (const l of extensionHostLogs(server.userDataDir)) {
        fs.writeFileSync(path.join(RUN_DIR, l.name.replace(/[\\/]/g, '__')), l.text);
      }
      await server.stop();
    }
    timings.totalMs = Date.now() - t0;
    fs.writeFileSync(path.join(RUN_DIR, 'timings.json'), JSON.stringify(timings, null, 2));
    process.stdout.write(`# e2e artifacts: ${path.relative(REPO, RUN_DIR)} ${JSON.stringify(timings)}\n`);
  });

  test('the extension activates and its status bar item shows the model state', async () => {
    const item = wb.statusItem(/Model: |Contracts: /);
    const text = await until(
      'the model status item to leave "starting"',
      async () => {
        const t = (await item.innerText().catch(() => '')).trim();
        return t && !/starting/.test(t) ? t : undefined;
      },
      60_000,
      async () => (await wb.statusBarTexts()).join(' | '),
    );
    timings.activatedMs = Date.now() - t0;
    // Any model state: "not loaded" today (models load on the first run), or a server that loads eagerly.
    assert.match(text, /Model: (not loaded|loading|downloading \d+%|error)| · \d+ threads?$/);
    await wb.screenshot(RUN_DIR, '01-status-bar');
  });

  test('a contract opens as "Prompt Contract", {{placeholders}} get their scope, and a clean sample has no problems', async () => {
    const text = fs.readFileSync(path.join(samples, RUN_SAMPLE), 'utf8');
    await wb.openFile(RUN_SAMPLE);
    assert.equal(await wb.editorLanguage(), 'Prompt Contract');
    const ph = firstPlaceholder(text);
    await wb.gotoLine(ph.line + 1, ph.character + 2);
    const scopes = await wb.inspectScopes();
    assert.match(scopes, /variable\.other\.placeholder\.contract/, scopes);
    assert.match(scopes, /source\.contract-yaml/, scopes);
    // YAML's own scopes are still there underneath.
    assert.match(scopes, /string\.unquoted\.block\.yaml|string\.quoted/, scopes);
    // And the theme shows it: the placeholder's colour differs from the prompt text around it.
    const tokens = await wb.lineTokens(ph.line + 1);
    const name = tokens.find((t) => t.text.includes(ph.name));
    const prose = tokens.find((t) => /[A-Za-z]{3}/.test(t.text) && !t.text.includes(ph.name));
    assert.ok(name && prose && name.color !== prose.color, `placeholder and prose colours: ${JSON.stringify(tokens)}`);
    await wb.screenshot(RUN_DIR, '02-clean-sample');
    const problems = await wb.problems();
    assert.ok(!problems.includes(RUN_SAMPLE), `no problems expected for ${RUN_SAMPLE}:\n${problems}`);
  });

  test("the broken samples' diagnostics show in the Problems panel, each on its marked line", async () => {
    const expected = UI_BROKEN_SAMPLES.flatMap((name) => markersOf(fs.readFileSync(path.join(samples, 'broken', `${name}.contract.yaml`), 'utf8')).map((m) => ({ name, ...m })));
    for (const name of UI_BROKEN_SAMPLES) await wb.openFile(`broken/${name}.contract.yaml`);
    const rows = await until(
      'every marked diagnostic in the Problems panel',
      async () => {
        await wb.expandProblems();
        const text = await wb.problems();
        return expected.every((e) => problemRow(e.code, e.line).test(text)) ? text : undefined;
      },
      60_000,
      () => wb.problems(),
    );
    for (const name of UI_BROKEN_SAMPLES) assert.ok(rows.includes(`${name}.contract.yaml`), `${name}.contract.yaml is listed`);
    timings.problemsMs = Date.now() - t0;
    await wb.screenshot(RUN_DIR, '03-problems');
  });

  test('unknown-key: the squiggle is on the marked line, and its hover names the code', async () => {
    const file = 'broken/unknown-key.contract.yaml';
    const [marker] = markersOf(fs.readFileSync(path.join(samples, file), 'utf8'));
    assert.ok(marker);
    await wb.openFile(file);
    const lines = await until('a squiggle in the editor', async () => {
      const l = await wb.squiggleLines();
      return l.length ? l : undefined;
    });
    assert.deepEqual(lines, [marker.line + 1]);
    assert.match(await wb.lineText(marker.line + 1), /# expect: unknown-key/);
    assert.match(await wb.hoverSquiggle(marker.line + 1), /contracts\(unknown-key\)/);
    await wb.screenshot(RUN_DIR, '04-squiggle');
    await wb.page.keyboard.press('Escape');
  });

  test('when the language server dies it comes back by itself, the user is told once, and checking resumes', async () => {
    const file = 'broken/unknown-key.contract.yaml';
    await wb.openFile(file);
    const stoppedToasts = async () => (await wb.notifications()).filter((n) => /language server stopped/.test(n)).length;
    const toastsBefore = await stoppedToasts();
    for (let round = 1; round <= 2; round++) {
      const [pid] = await until('one running language server', async () => {
        const pids = languageServerPids(server.extensionsDir);
        return pids.length === 1 ? pids : undefined;
      });
      process.kill(pid!, 'SIGKILL');
      const restarted = await until(
        `a new language server after kill #${round}`,
        async () => {
          const pids = languageServerPids(server.extensionsDir);
          return pids.length === 1 && pids[0] !== pid ? pids[0] : undefined;
        },
        // backoff: 1 s after the first crash, 2 s after the second
        30_000,
      );
      assert.notEqual(restarted, pid);
      await until('the status item to say the model is not loaded again', async () => ((await wb.statusItem(/Model: not loaded/).count()) > 0 ? true : undefined), 30_000, async () => (await wb.statusBarTexts()).join(' | '));
      const problems = await until('unknown-key to be reported again', async () => {
        await wb.expandProblems();
        const text = await wb.problems();
        return problemRow('unknown-key', 5).test(text) ? text : undefined;
      }, 30_000);
      assert.ok(problems);
    }
    await wb.screenshot(RUN_DIR, '05-restarted');
    assert.equal((await stoppedToasts()) - toastsBefore, 1, 'told once about the two crashes');
  });

  // Fails with "runtime not wired yet: …" when the lens command answers with an error.
  test('the Run example code lens shows a verdict with a latency', async () => {
    const text = fs.readFileSync(path.join(samples, RUN_SAMPLE), 'utf8');
    const example = firstExample(text);
    await wb.openFile(RUN_SAMPLE);
    await wb.gotoLine(example.line + 1);
    const lens = wb.codeLens('Run example').first();
    await lens.waitFor({ timeout: 30_000 });
    const before = new Set(await wb.notifications());
    await lens.click();
    const started = Date.now();
    const outcome = await until(
      `a verdict or an error for "${example.name}"`,
      async () => {
        const fresh = (await wb.notifications()).filter((n) => !before.has(n));
        const verdict = fresh.find((n) => VERDICT_WITH_LATENCY.test(n));
        if (verdict) return { verdict };
        const error = fresh.find((n) => /Prompt Contracts: Run example .*(failed|:)/.test(n) && !/Cancel/.test(n));
        return error ? { error } : undefined;
      },
      // A wired runtime loads a tiny model and runs one example: seconds, not minutes.
      180_000,
      async () => (await wb.notifications()).join(' || '),
    );
    await wb.screenshot(RUN_DIR, '06-run-example');
    if ('error' in outcome) assert.fail(`runtime not wired yet: the Run example lens answered with an error: ${outcome.error!.replace(/\s+/g, ' ')}`);
    timings.runExampleMs = Date.now() - started;
    const m = VERDICT_WITH_LATENCY.exec(outcome.verdict!);
    assert.ok(m && Number(m[2]) > 0, outcome.verdict);
  });

  test('the trained specialist: a passing example lens turns to ✓ with a latency, a failing one names the field that differs', async () => {
    const file = 'specialist-triage.contract.yaml';
    const lines = fs.readFileSync(path.join(samples, file), 'utf8').split('\n');
    await wb.openFile(file);
    for (const [name, lens] of [
      ['double charge', /^✓ [\d.]+ (ms|s)/],
      ['german billing', /label: billing → shipping/],
    ] as const) {
      const line = lines.findIndex((l) => l.includes(`- name: ${name}`));
      assert.ok(line >= 0, name);
      await wb.gotoLine(line + 2);
      await wb.runCommand('Prompt Contracts: Run Example');
      await until(`the lens of "${name}" to read ${lens}`, async () => ((await wb.codeLens(lens).count()) > 0 ? true : undefined), 180_000, async () => (await wb.editor().locator('.codelens-decoration a').allInnerTexts()).join(' | '));
    }
    await wb.screenshot(RUN_DIR, '07-specialist-verdicts');
  });

  test('Show Report opens a webview whose charts are drawn, following the theme, and it redraws as runs finish', async () => {
    // The specialist's two examples ran on its reference quantization (F16) in the test above.
    const file = 'specialist-triage.contract.yaml';
    await wb.openFile(file);
    await wb.runCommand('Prompt Contracts: Show Report');
    // The webview is an iframe inside an iframe: find the frame that holds the report, again on every
    // probe (a redraw may replace it).
    const section = '[data-contract="specialist-triage"]';
    const reportFrame = async () => {
      for (const f of wb.page.frames()) if ((await f.locator(section).count().catch(() => 0)) > 0) return f;
      return undefined;
    };
    const frame = await until('the report webview with the specialist\'s section', reportFrame, 60_000, async () => wb.page.frames().map((f) => f.url().slice(0, 80)).join(' | '));
    const count = async (selector: string) => (await (await reportFrame())?.locator(`${section} ${selector}`).count()) ?? 0;
    assert.ok((await count('[data-chart=latency] rect')) > 0, 'latency histogram bars');
    assert.ok((await count('[data-chart=latency] [data-mark=p95]')) > 0, 'p95 marks');
    assert.ok((await count('[data-chart=latency] [data-mark=budget-p95]')) > 0, 'the p95 budget line');
    assert.ok((await count('[data-chart=ttft] rect')) > 0, 'time to first token bars');
    // german billing answers shipping: /label fails
    assert.ok((await count('[data-chart=fields] g[data-field="/label"] rect')) > 0, 'the failing field /label');
    assert.equal(await count('[data-chart=drift]'), 0, 'one quantization so far: no drift matrix');
    const drawn = await frame.locator(`${section} svg[data-chart=latency]`).boundingBox();
    assert.ok(drawn && drawn.width > 100 && drawn.height > 50, `the latency chart has a size: ${JSON.stringify(drawn)}`);
    // Colours come from the workbench theme's variables, not the page's fallbacks.
    const themed = await frame.evaluate(() => {
      const g = globalThis as unknown as { getComputedStyle(e: unknown): { getPropertyValue(p: string): string }; document: { documentElement: unknown } };
      return g.getComputedStyle(g.document.documentElement).getPropertyValue('--vscode-editor-foreground').trim();
    });
    assert.ok(themed, 'the webview sees --vscode-editor-foreground');
    assert.equal(await frame.locator('meta[http-equiv="Content-Security-Policy"]').count(), 1);
    const showCharts = async () => {
      await wb.runCommand('Notifications: Clear All Notifications');
      await (await reportFrame())?.locator(`${section} svg[data-chart=latency]`).scrollIntoViewIfNeeded();
    };
    await showCharts();
    await wb.screenshot(RUN_DIR, '08-report');

    // Q8_0 for this window's runs, then the whole file: the open report gains the 12 Q8_0 results
    // and, with two quantizations, the drift matrix.
    const pick = async (label: RegExp) => {
      await wb.page.keyboard.press('F1');
      await wb.page.locator('.quick-input-widget .quick-input-box input').fill('>Prompt Contracts: Select Model / Quantization');
      // Not wb.runCommand: that waits for the quick input to close, and this command opens another.
      const command = wb.page.locator('.quick-input-list .monaco-list-row', { has: wb.page.locator('.label-name', { hasText: /^Prompt Contracts: Select Model \/ Quantization$/ }) }).first();
      await command.waitFor({ timeout: 15_000 });
      await command.click();
      const row = wb.page.locator('.quick-input-list .monaco-list-row', { has: wb.page.locator('.label-name', { hasText: label }) }).first();
      await row.waitFor({ timeout: 15_000 });
      await row.click();
      await wb.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
    };
    const examples = async () => Number(await (await reportFrame())?.locator(section).getAttribute('data-examples'));
    const before = await examples();
    await pick(/^Q8_0$/);
    try {
      await wb.runCommand('Prompt Contracts: Run All Examples in File');
      await until('the report to show 2 F16 and 12 Q8_0 results with a 2 × 2 drift matrix', async () => ((await examples().catch(() => 0)) === before + 12 && (await count('[data-chart=drift] g[data-row]')) === 4 ? true : undefined), 180_000, async () => `data-examples=${await examples().catch(() => NaN)} (before: ${before}), drift cells ${await count('[data-chart=drift] g[data-row]').catch(() => NaN)}`);
      assert.ok((await count('[data-chart=latency] g[data-quantization="Q8_0"] rect')) > 0, 'Q8_0 latencies drawn');
      await showCharts();
      await wb.screenshot(RUN_DIR, '08b-report-updated');
      await (await reportFrame())?.locator(`${section} svg[data-chart=drift]`).scrollIntoViewIfNeeded();
      await wb.screenshot(RUN_DIR, '08c-report-drift');
    } finally {
      // Leave the window as the next tests expect it: the reference quantization, one editor group.
      await pick(/The contract's reference quantization/);
      const tab = wb.page.locator('.tabs-container .tab', { hasText: 'Prompt Contracts Report' });
      await tab.first().click({ button: 'middle' });
      await tab.first().waitFor({ state: 'detached', timeout: 10_000 });
    }
  });

  test('the in-host suite of `npm run test:vscode` passes inside this VS Code', async () => {
    const out = path.join(server.root, 'host-suite.json');
    const started = Date.now();
    await wb.runCommand('Prompt Contracts E2E: Run In-Host Suite');
    const report = await until('the in-host suite to write its results', async () => {
      if (!fs.existsSync(out)) return undefined;
      return JSON.parse(fs.readFileSync(out, 'utf8')) as { results?: ScenarioResult[]; error?: string };
    }, 240_000);
    timings.inHostSuiteMs = Date.now() - started;
    fs.writeFileSync(path.join(RUN_DIR, 'in-host-suite.json'), JSON.stringify(report, null, 2));
    assert.ok(report.results, report.error);
    assert.ok(report.results.length >= 4, JSON.stringify(report.results));
    const failures = report.results.filter((r) => !r.ok);
    assert.deepEqual(failures, [], JSON.stringify(failures, null, 2));
  });

  test('Accept actual output as expected: the quick fix on a wrong value shows the diff, asks, and applies one undoable edit', async () => {
    // The workspace is a temp copy of samples/: the committed sample is never touched.
    const file = 'specialist-triage.contract.yaml';
    const onDisk = path.join(server.workspace, file);
    const original = fs.readFileSync(onDisk, 'utf8');
    const lines = original.split('\n');
    const name = lines.findIndex((l) => l.includes('- name: german billing'));
    const expectedLine = lines.findIndex((l, i) => i > name && l.trimStart().startsWith('expected:'));
    assert.equal(lines[expectedLine], '    expected: { label: billing, urgent: false }');
    await wb.openFile(file);
    await wb.gotoLine(name + 2);
    await wb.runCommand('Prompt Contracts: Run Example');
    await until('the lens of "german billing" to name the wrong label', async () => ((await wb.codeLens(/label: billing → shipping/).count()) > 0 ? true : undefined), 180_000);
    // The cursor on the squiggled value, then Ctrl+. (the lightbulb's menu).
    await wb.gotoLine(expectedLine + 1, lines[expectedLine]!.indexOf('billing') + 2);
    const fix = wb.page.locator('.action-widget .monaco-list-row', { hasText: 'Accept actual output as expected' }).first();
    await until('the quick fix menu', async () => {
      if (!(await fix.isVisible())) await wb.page.keyboard.press('Control+.');
      return (await fix.isVisible().catch(() => false)) ? true : undefined;
    }, 30_000, async () => (await wb.page.locator('.action-widget').allInnerTexts().catch(() => [])).join(' | ') || 'no action widget');
    // The menu takes keys (a pointer block covers it): move to the fix, then Enter.
    for (let i = 0; i < 5 && !/\bfocused\b/.test((await fix.getAttribute('class')) ?? ''); i++) await wb.page.keyboard.press('ArrowDown');
    assert.match((await fix.getAttribute('class')) ?? '', /\bfocused\b/);
    await wb.page.keyboard.press('Enter');
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 30_000 });
    assert.match(await dialog.innerText(), /Accept the actual output of "german billing" as its expected value\?/);
    // The diff is on screen behind the modal: the old value on the left, the actual output on the right.
    const diff = wb.page.locator('.monaco-diff-editor').filter({ visible: true }).first();
    await diff.waitFor({ timeout: 15_000 });
    await until('the diff to show both values', async () => {
      const t = (await diff.innerText()).replace(/\u00a0/g, ' ');
      return t.includes('label: billing') && t.includes('label: shipping') ? true : undefined;
    }, 15_000, async () => (await diff.innerText()).slice(0, 400));
    await wb.screenshot(RUN_DIR, '10-accept-output-diff');
    await dialog.getByRole('button', { name: 'Apply' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
    await until('the expected value to be the actual output', async () => ((await wb.lineText(expectedLine + 1)) === '    expected: { label: shipping, urgent: false }' ? true : undefined), 15_000, () => wb.lineText(expectedLine + 1));
    await wb.screenshot(RUN_DIR, '11-accept-output-applied');
    // Applied to the editor, not saved; saving writes exactly that line.
    assert.equal(fs.readFileSync(onDisk, 'utf8'), original, 'not saved by the fix');
    await wb.page.keyboard.press('Control+s');
    const saved = await until('the saved file', async () => {
      const t = fs.readFileSync(onDisk, 'utf8');
      return t !== original ? t : undefined;
    });
    const want = [...lines];
    want[expectedLine] = '    expected: { label: shipping, urgent: false }';
    assert.equal(saved, want.join('\n'), 'only that line changed');
    // One undo takes it back.
    await wb.page.keyboard.press('Control+z');
    await until('undo to restore the expected value', async () => ((await wb.lineText(expectedLine + 1)) === lines[expectedLine] ? true : undefined), 15_000, () => wb.lineText(expectedLine + 1));
    await wb.page.keyboard.press('Control+s');
    await until('the file to be as it was', async () => (fs.readFileSync(onDisk, 'utf8') === original ? true : undefined));
  });

  test('a window reload during a run: the extension comes back, says once that the run was interrupted, and the unsaved edit is still there', async () => {
    const file = RUN_SAMPLE;
    const onDisk = path.join(server.workspace, file);
    const original = fs.readFileSync(onDisk, 'utf8');
    const lines = original.split('\n');
    const example = firstExample(original);
    const inputLine = example.line + 1;
    assert.match(lines[inputLine]!, /^ {4}input: \{ complaint: ".*" \}$/);
    // VS Code for the web saves after a second by default; with auto save off the edit lives only in
    // the editor (and VS Code's hot-exit backup), which is what a reload must not lose.
    const settingsFile = path.join(server.userDataDir, 'User', 'settings.json');
    const autoSave = () => (JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as Record<string, unknown>)['files.autoSave'];
    await wb.runCommand('File: Toggle Auto Save');
    if ((await until('auto save to be set', async () => autoSave())) !== 'off') await wb.runCommand('File: Toggle Auto Save');
    assert.equal(await until('auto save to be off', async () => (autoSave() === 'off' ? 'off' : undefined)), 'off');
    await wb.openFile(file);
    // An unsaved edit: an input the prompt does not use (a warning, so the contract still runs).
    await wb.gotoLine(inputLine + 1, lines[inputLine]!.length - 1);
    await wb.page.keyboard.type(', tier: gold', { delay: 20 });
    await wb.page.keyboard.press('Escape');
    const edited = lines[inputLine]!.replace(/ \}$/, ', tier: gold }');
    await until('the edit in the editor', async () => ((await wb.lineText(inputLine + 1)) === edited ? true : undefined), 10_000, () => wb.lineText(inputLine + 1));
    const warned = async () => {
      await wb.expandProblems();
      return problemRow('placeholder-unused-input', inputLine).test(await wb.problems()) ? true : undefined;
    };
    await until('the unsaved edit to be checked', warned, 30_000, () => wb.problems());
    const dirtyTab = wb.page.locator('.tabs-container .tab.dirty', { hasText: file });
    assert.equal(await dirtyTab.count(), 1, 'the edit is unsaved');
    assert.equal(fs.readFileSync(onDisk, 'utf8'), original, 'the edit is only in the editor');

    await wb.openFile(file);
    await wb.runCommand('Prompt Contracts: Run All Examples in File');
    // Mid-run: the progress toast reports examples, and the run has not finished (no summary yet).
    const progress = await until('the run to be under way', async () => (await wb.notifications()).find((n) => /Run all examples in classify-complaint/.test(n) && /\d+\/\d+|running on|loading/.test(n)), 120_000, async () => (await wb.notifications()).join(' || '));
    assert.ok(!(await wb.notifications()).some((n) => /\d+\/\d+ pass/.test(n) && !/Run all/.test(n)), 'the run has not finished yet');
    await wb.screenshot(RUN_DIR, '12-before-reload');
    const toastsBefore = await wb.notifications();
    await reloadWindow(wb);
    timings.reloadedMs = Date.now() - t0;

    // Back: a new language server, the status item, the edit still unsaved in the editor, the file untouched.
    await until('the status item after the reload', async () => ((await wb.statusItem(/Model: not loaded/).count()) > 0 ? true : undefined), 90_000, async () => (await wb.statusBarTexts()).join(' | '));
    const told = await until('the interrupted run to be told', async () => {
      const n = (await wb.notifications()).filter((x) => /interrupted/.test(x));
      return n.length ? n : undefined;
    }, 60_000, async () => (await wb.notifications()).join(' || '));
    assert.equal(told.length, 1, told.join(' || '));
    assert.match(told[0]!, /"Run all examples in classify-complaint\.contract\.yaml" was interrupted when the window reloaded/);
    await wb.openFile(file);
    assert.equal(await wb.lineText(inputLine + 1), edited, 'the unsaved edit survived the reload');
    assert.equal(await dirtyTab.count(), 1, 'still unsaved');
    assert.equal(fs.readFileSync(onDisk, 'utf8'), original, 'nothing was saved behind the user');
    await until('diagnostics of the restored edit', warned, 60_000, () => wb.problems());
    await until('the code lenses of the restored editor', async () => ((await wb.codeLens(/Run example|Run all|pass/).count()) > 0 ? true : undefined), 30_000, async () => (await wb.editor().locator('.codelens-decoration a').allInnerTexts()).join(' | ') || 'no lenses');
    const toasts = await wb.notifications();
    assert.equal(new Set(toasts).size, toasts.length, `no toast twice: ${toasts.join(' || ')}`);
    assert.ok(!toasts.some((n) => /language server (stopped|keeps stopping)/.test(n)), toasts.join(' || '));
    await wb.screenshot(RUN_DIR, '13-after-reload');
    process.stdout.write(`# reload during a run: before: ${JSON.stringify(progress)} / ${toastsBefore.length} toasts; after: ${JSON.stringify(toasts)}\n`);

    // Told once: another reload says nothing more about it.
    await reloadWindow(wb);
    await until('the status item after the second reload', async () => ((await wb.statusItem(/Model: not loaded/).count()) > 0 ? true : undefined), 90_000, async () => (await wb.statusBarTexts()).join(' | '));
    await wb.openFile(file);
    assert.equal(await wb.lineText(inputLine + 1), edited, 'the edit survived the second reload too');
    await until('diagnostics after the second reload', warned, 60_000, () => wb.problems());
    assert.deepEqual((await wb.notifications()).filter((x) => /interrupted/.test(x)), [], 'not told again');
    await wb.runCommand('File: Toggle Auto Save');
  });

  test('the language server killed during a run: one message names the run that did not finish, and the server, checks and lenses come back', async () => {
    await wb.openFile(RUN_SAMPLE);
    const before = new Set(await wb.notifications());
    await wb.runCommand('Prompt Contracts: Run All Examples in File');
    await until('the run to be under way', async () => (await wb.notifications()).find((n) => /Run all examples in classify-complaint/.test(n) && /\d+\/\d+|running on|loading/.test(n)), 120_000, async () => (await wb.notifications()).join(' || '));
    const [pid] = await until('one running language server', async () => {
      const pids = languageServerPids(server.extensionsDir);
      return pids.length === 1 ? pids : undefined;
    });
    process.kill(pid!, 'SIGKILL');
    const told = await until('the crash to be told', async () => {
      const fresh = (await wb.notifications()).filter((n) => !before.has(n) && /stopped|did not finish/.test(n));
      return fresh.length ? fresh : undefined;
    }, 30_000, async () => (await wb.notifications()).join(' || '));
    await until('a new language server', async () => {
      const pids = languageServerPids(server.extensionsDir);
      return pids.length === 1 && pids[0] !== pid ? pids[0] : undefined;
    }, 30_000);
    await until('the status item back', async () => ((await wb.statusItem(/Model: not loaded/).count()) > 0 ? true : undefined), 30_000, async () => (await wb.statusBarTexts()).join(' | '));
    await until('the code lenses back', async () => ((await wb.codeLens(/Run example|Run all/).count()) > 0 ? true : undefined), 30_000, async () => (await wb.editor().locator('.codelens-decoration a').allInnerTexts()).join(' | ') || 'no lenses');
    // The client logs how the cut-off run was told (in the crash's message, or by the run itself).
    const settled = await until('the interrupted run to be settled in the log', async () => {
      const line = extensionHostLogs(server.userDataDir)
        .flatMap((l) => l.text.split('\n'))
        .find((l) => l.includes('interrupted run "Run all examples in classify-complaint.contract.yaml"'));
      return line;
    }, 30_000);
    assert.match(settled, /named in the message about the stopped server/);
    const about = (await wb.notifications()).filter((n) => !before.has(n) && /stopped|did not finish/.test(n));
    await wb.screenshot(RUN_DIR, '14-killed-mid-run');
    assert.equal(about.length, 1, `told once: ${about.join(' || ')}`);
    assert.match(about[0]!, /language server stopped .*during "Run all examples in classify-complaint\.contract\.yaml", which did not finish/);
    assert.equal(told.length, 1);
  });
});

/** "Developer: Reload Window" from the palette, then waits for the new workbench. */
async function reloadWindow(wb: Workbench): Promise<void> {
  // VS Code backs an unsaved edit up a moment after it is made; asked to unload before that, it
  // vetoes with a "leave this page?" prompt (nothing is lost: the user is asked). Then stay, and
  // ask again: each try is a poll of "is the edit backed up?", bounded.
  for (let attempt = 1; ; attempt++) {
    let vetoed!: () => void;
    const asked = new Promise<'asked'>((resolve) => (vetoed = () => resolve('asked')));
    const last = attempt >= 10;
    const onDialog = (d: { type(): string; accept(): Promise<void>; dismiss(): Promise<void> }) => {
      process.stdout.write(`# reload: the page asked ${d.type()} (try ${attempt}${last ? ', accepted' : ', stayed'})\n`);
      void (last ? d.accept() : d.dismiss());
      if (!last) vetoed();
    };
    wb.page.on('dialog', onDialog);
    const navigated = wb.page.waitForEvent('framenavigated', { predicate: (f) => f === wb.page.mainFrame(), timeout: 60_000 }).then(() => 'navigated' as const);
    await wb.runCommand('Developer: Reload Window').catch(() => undefined); // the page may go away before the palette closes
    const how = await Promise.race([navigated, asked]).finally(() => wb.page.off('dialog', onDialog));
    if (how === 'navigated') break;
    navigated.catch(() => undefined);
    await wb.page.keyboard.press('Escape');
    await new Promise((r) => setTimeout(r, 500));
  }
  await wb.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await wb.page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 60_000 });
}
