/** Generators for benchmark inputs (also used by tests that need large contracts). */

const LABELS = ['billing', 'shipping', 'product', 'other'];

export function largeContract(examples = 200): string {
  const lines: string[] = [
    'contract: big-classifier',
    'description: A large contract for benchmarks (2,000 lines, 200 examples).',
    'model:',
    '  quantizations: [Q8_0, QAT-Q4_0]',
    '  temperature: 0',
    '  maxTokens: 96',
    'prompt:',
    '  system: |',
    '    You triage customer complaints. Answer with JSON only.',
    '  user: |',
    '    Classify the complaint as billing, shipping, product or other, with a confidence and a short reason.',
    '    Complaint: {{complaint}}',
    '    Customer tier: {{tier}}',
    'output:',
    '  schema:',
    '    type: object',
    '    additionalProperties: false',
    '    required: [label, confidence, reason]',
    '    properties:',
    '      label: { enum: [billing, shipping, product, other] }',
    '      confidence: { type: number }',
    '      reason: { type: string, maxLength: 120 }',
    '  match: fields',
    '  ignore: [/confidence, /reason]',
    'examples:',
  ];
  for (let i = 0; i < examples; i++) {
    lines.push(
      `  - name: complaint ${i}`,
      `    description: generated example number ${i}`,
      '    input:',
      `      complaint: "Order ${4000 + i} was charged twice and the parcel arrived late, case ${i}."`,
      `      tier: ${i % 3 === 0 ? 'gold' : 'basic'}`,
      '    expected:',
      `      label: ${LABELS[i % 4]}`,
      `      confidence: 0.${(i % 9) + 1}`,
      `      reason: "generated reason ${i}"`,
      `    tags: [generated, batch-${i % 10}]`,
    );
  }
  return lines.join('\n') + '\n';
}

export function smallContract(i: number): string {
  return `contract: small-${i}
description: Small contract number ${i} for the check benchmark.
model:
  quantizations: [Q8_0]
  temperature: 0
  maxTokens: 64
prompt:
  system: |
    You route user queries. Answer with JSON only.
  user: |
    Route the query to search, billing, support or unknown.
    Query: {{query}}
output:
  schema:
    type: object
    additionalProperties: false
    required: [route, confidence]
    properties:
      route: { enum: [search, billing, support, unknown] }
      confidence: { type: number }
  match: fields
  ignore: [/confidence]
examples:
  - name: find shoes
    input: { query: "red running shoes size ${i % 12}" }
    expected: { route: search, confidence: 0.9 }
  - name: refund
    input: { query: "refund my last invoice ${i}" }
    expected: { route: billing, confidence: 0.8 }
  - name: broken app
    input: { query: "the app crashes on start" }
    expected: { route: support, confidence: 0.7 }
  - name: gibberish
    input: { query: "asdf qwer" }
    expected: { route: unknown, confidence: 0.2 }
budgets:
  passRate: 0.9
  p95Ms: 800
`;
}
