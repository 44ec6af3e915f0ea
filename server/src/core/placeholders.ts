/** `{{name}}` placeholders in prompt templates. `\{{` is a literal `{{`. */

export interface PlaceholderToken {
  /** Offsets into the template string. */
  start: number;
  end: number;
  name?: string;
  /** Set when the placeholder is malformed. */
  problem?: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function scanPlaceholders(template: string): PlaceholderToken[] {
  const out: PlaceholderToken[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{{', i);
    if (open < 0) break;
    if (open > 0 && template[open - 1] === '\\') {
      i = open + 2;
      continue;
    }
    const nl = template.indexOf('\n', open);
    const close = template.indexOf('}}', open + 2);
    if (close < 0 || (nl >= 0 && nl < close)) {
      out.push({ start: open, end: nl < 0 ? template.length : nl, problem: '`{{` is never closed with `}}` on the same line' });
      i = open + 2;
      continue;
    }
    const inner = template.slice(open + 2, close).trim();
    const tok: PlaceholderToken = { start: open, end: close + 2 };
    if (inner === '') tok.problem = 'empty placeholder `{{}}`';
    else if (!NAME.test(inner)) tok.problem = `\`${inner}\` is not a placeholder name (letters, digits and _, not starting with a digit)`;
    else tok.name = inner;
    out.push(tok);
    i = close + 2;
  }
  return out;
}

export function placeholderNames(template: string): string[] {
  const names = new Set<string>();
  for (const t of scanPlaceholders(template)) if (t.name) names.add(t.name);
  return [...names];
}

export function inputText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Fills the placeholders of a template from an input map (missing names render as empty). */
export function renderTemplate(template: string, input: Record<string, unknown>): string {
  let out = '';
  let last = 0;
  for (const t of scanPlaceholders(template)) {
    if (!t.name) continue;
    out += template.slice(last, t.start).replace(/\\\{\{/g, '{{') + inputText(input[t.name]);
    last = t.end;
  }
  return out + template.slice(last).replace(/\\\{\{/g, '{{');
}
