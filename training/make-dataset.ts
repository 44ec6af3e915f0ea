/**
 * Builds the specialist's training data from its contract: the contract's own examples (except
 * those tagged `hard` or `ood`, kept out so the tests see honest failures) exported exactly as
 * "Export fine-tuning dataset" writes them, plus generated variations of the same kinds of
 * messages. Deterministic (seeded).
 *
 *   node --import tsx training/make-dataset.ts [--out training/data] [--train 4000] [--heldout 300]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkContract } from '../server/src/core/check';
import { chatMessages, exportDataset, toJsonl, type DatasetRow } from '../server/src/core/dataset';
import type { Contract } from '../server/src/core/contract-schema';
import { fsHost } from '../server/src/node-host';

export const SPECIALIST_CONTRACT = path.join(__dirname, '..', 'samples', 'specialist-triage.contract.yaml');

type Label = 'billing' | 'shipping' | 'product' | 'other';

const ITEMS = ['blender', 'backpack', 'phone case', 'laptop stand', 'kettle', 'heater', 'desk lamp', 'headphones', 'coffee machine', 'jacket', 'vacuum cleaner', 'keyboard', 'smart watch', 'router', 'sofa'];
const NAMES = ['Anna', 'Ben', 'Chloe', 'David', 'Emma', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jack', 'Kai', 'Lena', 'Marco', 'Nora', 'Omar'];

const TEMPLATES: Record<Label, string[]> = {
  billing: [
    'I was charged twice for order {n}.',
    'You charged my card {k} times for the same order.',
    'Please refund my payment for order {n}.',
    'My invoice {n} shows the wrong amount.',
    'Why was I billed {amount} euros when the price was lower?',
    'I cancelled my subscription but you still took the money.',
    'I want a refund for order {n}, the charge is wrong.',
    'The discount code was not applied and I paid full price.',
    'There is a charge on my statement I do not recognise from your shop.',
    'My refund for order {n} never reached my bank account.',
    'Can you send me a corrected invoice for order {n}?',
    'You billed me for a {item} I returned weeks ago.',
  ],
  shipping: [
    'My parcel for order {n} has not arrived yet.',
    'Tracking has not updated in {k} days.',
    'The courier delivered my package to the wrong address.',
    'Where is my order {n}? It was due last week.',
    'The delivery is late and nobody tells me why.',
    'My package was marked delivered but I never got it.',
    'The parcel with my {item} is stuck at the depot.',
    'I paid for express shipping and it still took {k} days.',
    'The driver left the box in the rain outside my door.',
    'Can you change the delivery address for order {n}?',
    'The courier lost my package.',
    'My order {n} was sent to {name} instead of me.',
  ],
  product: [
    'The {item} stopped working after {k} days.',
    'My {item} arrived broken.',
    'The {item} is cracked and unusable.',
    'The app crashes every time I open it.',
    'The {item} makes a loud noise and smells burnt.',
    'I received the wrong size of {item}.',
    'The battery of my {item} dies after an hour.',
    'The {item} does not turn on at all.',
    'The screen of the {item} flickers constantly.',
    'The zipper of my {item} broke the first time I used it.',
    'The app logs me out every few minutes.',
    'The colour of the {item} is not what the picture showed.',
  ],
  other: [
    'What are your opening hours on Sundays?',
    'Your agent {name} was rude to me on the phone.',
    'Do you sell gift cards?',
    'How do I change the email address on my account?',
    'I would like to give feedback about your website.',
    'Is there a store near {name}\'s office in the city centre?',
    'Thank you for the great service last time.',
    'Can I speak to a manager about your return policy?',
    'Are you hiring for the summer?',
    'Please remove me from your newsletter.',
    'Hello, is anyone there?',
    '',
  ],
};

const URGENT_PREFIX = ['URGENT: ', 'Urgent! ', 'Please help asap, ', 'Emergency: ', 'ASAP please: '];
const URGENT_SUFFIX = [' Fix this immediately!', ' I need it by tomorrow!', ' This is urgent.', ' Please respond asap!', ' I need this solved today, urgently.'];
const CALM_PREFIX = ['', '', '', 'Hi, ', 'Hello team, ', 'Good morning. ', 'Hey, '];
const CALM_SUFFIX = ['', '', '', ' Thanks.', ' Thank you!', ' Kind regards.', ' Best, ' ];

/** Mulberry32: small, fast and deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

export function generateMessage(r: () => number): { message: string; label: Label; urgent: boolean } {
  const label = pick(r, ['billing', 'shipping', 'product', 'other'] as const);
  let text = pick(r, TEMPLATES[label])
    .replace('{n}', String(1000 + Math.floor(r() * 9000)))
    .replace('{k}', String(2 + Math.floor(r() * 12)))
    .replace('{amount}', String(10 + Math.floor(r() * 490)))
    .replace('{item}', pick(r, ITEMS))
    .replace('{name}', pick(r, NAMES));
  const urgent = text !== '' && r() < 0.35;
  if (urgent) text = r() < 0.5 ? pick(r, URGENT_PREFIX) + text : text + pick(r, URGENT_SUFFIX);
  else if (text !== '') text = pick(r, CALM_PREFIX) + text + pick(r, CALM_SUFFIX);
  if (r() < 0.1) text = text.toLowerCase();
  return { message: text.trim(), label, urgent };
}

export function loadSpecialistContract(file = SPECIALIST_CONTRACT): Contract {
  const r = checkContract(fs.readFileSync(file, 'utf8'), { file, host: fsHost(path.dirname(file)) });
  if (!r.contract) throw new Error(`${file} does not check: ${r.findings.map((f) => f.message).join('; ')}`);
  return r.contract;
}

export function buildDataset(contract: Contract, count: number, seed: number): DatasetRow[] {
  const trainable = contract.examples.filter((e) => !(e.tags ?? []).some((t) => t === 'hard' || t === 'ood')).map((e) => e.name);
  const rows = exportDataset(contract, { examples: trainable });
  const r = rng(seed);
  for (let i = 0; i < count; i++) {
    const g = generateMessage(r);
    rows.push({ messages: chatMessages(contract.prompt, { message: g.message }, { label: g.label, urgent: g.urgent }, contract.output.schema) });
  }
  return rows;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
  };
  const out = opt('--out', path.join(__dirname, 'data'));
  const contract = loadSpecialistContract();
  fs.mkdirSync(out, { recursive: true });
  const train = buildDataset(contract, Number(opt('--train', '4000')), 1);
  const heldout = buildDataset({ ...contract, examples: [] }, Number(opt('--heldout', '300')), 2);
  fs.writeFileSync(path.join(out, 'train.jsonl'), toJsonl(train));
  fs.writeFileSync(path.join(out, 'heldout.jsonl'), toJsonl(heldout));
  console.log(`wrote ${train.length} training and ${heldout.length} held-out rows to ${path.relative(process.cwd(), out)}`);
}
