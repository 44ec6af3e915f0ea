import { grammarGaps } from './check';

/** One-line documentation of JSON Schema keywords (hover and completion inside `output.schema`). */
export const SCHEMA_KEYWORDS: Readonly<Record<string, string>> = {
  $schema: 'The JSON Schema dialect: https://json-schema.org/draft/2020-12/schema (default) or http://json-schema.org/draft-07/schema#.',
  $id: 'An identifier for the schema. The checker replaces the root `$id` with its own.',
  $ref: 'Use another schema here: `#/$defs/name` inside this schema, or a relative path to a file in the workspace (`./item.schema.json#/$defs/x`). URLs are never fetched.',
  $defs: 'Named subschemas, referenced with `$ref: "#/$defs/name"`.',
  definitions: 'Named subschemas (draft-07 spelling of `$defs`), referenced with `$ref: "#/definitions/name"`.',
  $comment: 'A note for people; ignored by validation.',
  title: 'A short title for people; ignored by validation.',
  description: 'What this value means. Shown on hover; a good description also helps whoever writes the prompt.',
  default: 'A default value for documentation; validation does not apply it.',
  examples: 'Sample values for documentation; not validated against anything.',
  deprecated: 'Marks the value as deprecated; ignored by validation.',
  readOnly: 'Annotation only; ignored by validation.',
  writeOnly: 'Annotation only; ignored by validation.',
  type: 'The JSON type(s) allowed: `object`, `array`, `string`, `number`, `integer`, `boolean`, `null`, or a list of them.',
  enum: 'The value must equal one of the listed values.',
  const: 'The value must equal exactly this value.',
  properties: 'The schema of each named property of an object. Constrained decoding emits every listed property, in this order.',
  required: 'Properties that must be present. Constrained decoding ignores it: every property in `properties` is always generated.',
  additionalProperties: 'The schema of properties not listed in `properties`; `false` forbids them. Decoding treats a missing value as `false`.',
  patternProperties: 'Schemas for properties whose names match a regular expression.',
  propertyNames: 'A schema every property name must satisfy.',
  minProperties: 'Minimum number of properties.',
  maxProperties: 'Maximum number of properties.',
  dependentRequired: 'Properties that become required when another property is present.',
  dependentSchemas: 'Schemas that apply when a property is present.',
  unevaluatedProperties: 'The schema of properties no other keyword evaluated.',
  items: 'The schema of the array\'s items (after `prefixItems`).',
  prefixItems: 'Schemas of the first items of the array, by position (tuples).',
  additionalItems: 'Draft-07: the schema of items after a tuple-form `items`.',
  minItems: 'Minimum number of items.',
  maxItems: 'Maximum number of items.',
  uniqueItems: 'When true, items must all differ.',
  contains: 'At least one item must match this schema.',
  minContains: 'Minimum number of items matching `contains`.',
  maxContains: 'Maximum number of items matching `contains`.',
  unevaluatedItems: 'The schema of items no other keyword evaluated.',
  minLength: 'Minimum string length, in code points.',
  maxLength: 'Maximum string length, in code points.',
  pattern: 'A regular expression (ECMA-262) the string must match somewhere.',
  format: 'A string format such as `date`, `date-time`, `email`, `uri`, `uuid`; checked by the validator.',
  contentMediaType: 'Annotation: the media type of the string\'s content.',
  contentEncoding: 'Annotation: the encoding of the string\'s content.',
  minimum: 'Smallest allowed number (inclusive).',
  maximum: 'Largest allowed number (inclusive).',
  exclusiveMinimum: 'The number must be greater than this.',
  exclusiveMaximum: 'The number must be less than this.',
  multipleOf: 'The number must be a multiple of this.',
  oneOf: 'The value must match exactly one of these schemas. Constrained decoding can choose between the branches.',
  anyOf: 'The value must match at least one of these schemas.',
  allOf: 'The value must match every one of these schemas.',
  not: 'The value must not match this schema.',
  if: 'When the value matches `if`, it must match `then`; otherwise `else`.',
  then: 'Applies when `if` matches.',
  else: 'Applies when `if` does not match.',
};

export const JSON_TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'] as const;

/** Keywords whose value maps names to subschemas (their keys are names, not keywords). */
export const NAME_MAP_KEYWORDS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);

/** What constrained decoding does with a keyword, when it does not enforce it. */
export function decodingNote(keyword: string): string | undefined {
  const probe: Record<string, unknown> = { type: 'string', [keyword]: keyword === 'format' ? 'email' : ['anyOf', 'allOf', 'oneOf', 'required', 'enum'].includes(keyword) ? [] : {} };
  if (keyword === 'then' || keyword === 'else') probe.if = {};
  const gap = grammarGaps({ schema: probe, externals: new Map() }).find((g) => g.code === 'grammar-ignored-keyword');
  return gap?.message;
}
