import type { Contract } from '../core/contract-schema';
import { renderTemplate, scanPlaceholders } from '../core/placeholders';

/**
 * Renders a contract's prompt for one example exactly as Gemma 3's chat template does:
 *
 *   <bos><start_of_turn>user\n{system}\n\n{user}<end_of_turn>\n<start_of_turn>model\n
 *
 * Gemma has no system role: its Jinja template prepends the system text, followed by a blank line,
 * to the first user turn (node-llama-cpp's Gemma chat wrapper drops it instead, so it is never
 * used here). The template trims the user content. The system text is trimmed here too: the
 * template leaves it as given, and a YAML block scalar (`system: |`) ends with a newline that is
 * not part of the instruction but would put three newlines between system and user text.
 * A blank system text means no system message at all.
 *
 * The template's markup must become special tokens (`<start_of_turn>` 105, `<end_of_turn>` 106),
 * not characters, and the content must not: see tokenizeTurns.
 */

export const BOS = '<bos>';
export const START_OF_TURN = '<start_of_turn>';
export const END_OF_TURN = '<end_of_turn>';
export const START_OF_TURN_ID = 105;
export const END_OF_TURN_ID = 106;
export const BOS_ID = 2;

export interface RenderedPrompt {
  /** The full prompt text, with special-token markup. */
  text: string;
  /** The system text as placed in the turn (trimmed), or undefined when there is none. */
  system?: string;
  /** The user text as placed in the turn (trimmed). */
  user: string;
  /**
   * The part of `text` that is the same for every example: everything before the first
   * placeholder. Its evaluated state can be reused across examples.
   */
  staticPrefix: string;
}

type PromptTemplates = Pick<Contract['prompt'], 'system' | 'user'>;

/** The messages of the prompt, as a chat template receives them (for comparisons with a reference renderer). */
export function promptMessages(prompt: PromptTemplates, input: Record<string, unknown>): { role: 'system' | 'user'; content: string }[] {
  const system = prompt.system === undefined ? '' : renderTemplate(prompt.system, input).trim();
  const user = renderTemplate(prompt.user, input);
  return system ? [{ role: 'system', content: system }, { role: 'user', content: user }] : [{ role: 'user', content: user }];
}

export function renderGemmaTurns(system: string | undefined, user: string): string {
  return `${BOS}${START_OF_TURN}user\n${system ? system + '\n\n' : ''}${user.trim()}${END_OF_TURN}\n${START_OF_TURN}model\n`;
}

export function renderPrompt(prompt: PromptTemplates, input: Record<string, unknown>): RenderedPrompt {
  const system = prompt.system === undefined ? undefined : renderTemplate(prompt.system, input).trim() || undefined;
  const user = renderTemplate(prompt.user, input).trim();
  const text = renderGemmaTurns(system, user);
  return { text, system, user, staticPrefix: commonPrefix(staticPrefixCandidate(prompt), text) };
}

/** The prompt text up to the first placeholder (what every example shares). */
function staticPrefixCandidate(prompt: PromptTemplates): string {
  const head = `${BOS}${START_OF_TURN}user\n`;
  const sys = prompt.system;
  if (sys !== undefined) {
    const first = scanPlaceholders(sys).find((t) => t.name);
    if (first) return head + renderTemplate(sys.slice(0, first.start), {}).trimStart();
  }
  const sysText = sys === undefined ? '' : renderTemplate(sys, {}).trim();
  const userHead = head + (sysText ? sysText + '\n\n' : '');
  const first = scanPlaceholders(prompt.user).find((t) => t.name);
  if (!first) return renderGemmaTurns(sysText || undefined, renderTemplate(prompt.user, {}));
  return userHead + renderTemplate(prompt.user.slice(0, first.start), {}).trimStart();
}

function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return a.slice(0, i);
}

/** Length of the common prefix of two token arrays. */
export function commonTokenPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

export interface Tokenizer {
  /** `specialTokens: true` parses `<start_of_turn>` and friends as special tokens. */
  tokenize(text: string, specialTokens?: boolean): readonly number[];
}

export interface TokenizedPrompt {
  tokens: number[];
  /** How many leading tokens are shared by every example (the static prefix's tokens). */
  sharedPrefixTokens: number;
}

const TURN_HEAD = `${BOS}${START_OF_TURN}`;
const TURN_TAIL = `${END_OF_TURN}\n${START_OF_TURN}model\n`;

/**
 * Tokenizes rendered Gemma turns with only the chat template's own markup as special tokens: the
 * leading `<bos><start_of_turn>` and the closing `<end_of_turn>\n<start_of_turn>model\n`. The
 * content between them — the contract's prompt text and the example's input — is tokenized as
 * text, so an input that contains `<end_of_turn>` (a user pasting chat markup, an injection
 * attempt) reaches the model as those characters and cannot close the turn. llama.cpp tokenizes
 * the text between special tokens fragment by fragment, so for content without markup this gives
 * exactly the tokens of `tokenize(text, true)` (tested).
 */
export function tokenizeTurns(tokenizer: Tokenizer, text: string): number[] {
  if (!text.startsWith(TURN_HEAD)) return [...tokenizer.tokenize(text, true)];
  const out = [...tokenizer.tokenize(TURN_HEAD, true)];
  const tail = text.endsWith(TURN_TAIL) && text.length - TURN_TAIL.length >= TURN_HEAD.length;
  const body = text.slice(TURN_HEAD.length, tail ? text.length - TURN_TAIL.length : text.length);
  if (body) out.push(...tokenizer.tokenize(body, false));
  if (tail) out.push(...tokenizer.tokenize(TURN_TAIL, true));
  return out;
}

export function tokenizePrompt(tokenizer: Tokenizer, rendered: RenderedPrompt): TokenizedPrompt {
  const tokens = tokenizeTurns(tokenizer, rendered.text);
  // The static prefix's last token may merge differently with what follows it; keep only the
  // tokens both tokenizations agree on.
  const prefix = rendered.staticPrefix ? tokenizeTurns(tokenizer, rendered.staticPrefix) : [];
  return { tokens, sharedPrefixTokens: commonTokenPrefix(prefix, tokens) };
}
