/**
 * The small contract several suites share: classify a complaint as billing or shipping. Each suite
 * adds its own head (model, description), extra schema properties, budgets and examples.
 */
export function labelContract(opts: { name: string; head?: string; properties?: string; tail?: string; examples: string }): string {
  return `contract: ${opts.name}
${opts.head ?? ''}prompt:
  system: "Answer with JSON only."
  user: "Classify {{complaint}} as billing or shipping; give the label."
output:
  schema:
    type: object
    additionalProperties: false
    required: [label]
    properties:
      label: { enum: [billing, shipping] }
${opts.properties ?? ''}  match: fields
${opts.tail ?? ''}examples:
${opts.examples}`;
}
