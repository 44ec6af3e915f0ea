import type { Format, Writer } from '../report';
import { jsonWriter } from './json';
import { junitWriter } from './junit';
import { sarifWriter } from './sarif';
import { textWriter, type TextOptions } from './text';

export { jsonWriter, junitWriter, sarifWriter, textWriter, type TextOptions };

export function writerFor(format: Format, opts: TextOptions = {}): Writer {
  switch (format) {
    case 'text':
      return textWriter(opts);
    case 'json':
      return jsonWriter();
    case 'junit':
      return junitWriter();
    case 'sarif':
      return sarifWriter();
  }
}
