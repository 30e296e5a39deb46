import { readFile } from 'node:fs/promises';
import { ModelpoolError, invalidArgument } from '../errors.js';
import { nonEmptyString } from '../validate.js';
import { checkEntry, parsePriceEntries } from './price-parse.js';
import type { PriceEntry } from './types.js';

/** An entry with its matcher and how specific it is. */
interface Compiled {
  entry: PriceEntry;
  /** Whether `model` holds a `*`. */
  glob: boolean;
  /** Literal (non-`*`) characters: more is more specific. */
  literals: number;
  stars: number;
}

/**
 * Token prices of remote models, by provider and model. No vendor's prices are built in: load your
 * own table (a JSON array or JSONL file of {@link PriceEntry}) and keep its `note`s saying where each
 * price came from and when.
 */
export class PriceTable {
  readonly #byProvider = new Map<string, Compiled[]>();
  readonly #entries: PriceEntry[];

  /**
   * A table of `entries` (validated: INVALID_ARGUMENT naming `entries[i].<field>`, ALREADY_EXISTS for
   * a second entry with the same provider and model).
   */
  constructor(entries: readonly PriceEntry[] = []) {
    if (!Array.isArray(entries)) throw invalidArgument('entries', 'an array of price entries', entries);
    this.#entries = entries.map((entry, index) =>
      checkEntry(entry, (field, expected, value) => invalidArgument(`entries[${index}].${field}`, expected, value)),
    );
    this.#entries.forEach((entry, index) => {
      let list = this.#byProvider.get(entry.provider);
      if (list === undefined) this.#byProvider.set(entry.provider, (list = []));
      if (list.some((other) => other.entry.model === entry.model)) {
        throw new ModelpoolError('ALREADY_EXISTS', `entries[${index}]: ${entry.provider} ${entry.model} is priced twice`, {
          field: `entries[${index}].model`,
          value: entry.model,
        });
      }
      list.push(compile(entry));
    });
  }

  /**
   * Parses a price table: a JSON array of entries, or JSONL (one entry per line; blank lines and lines
   * starting with '#' ignored). Throws INVALID_DATA naming the field (`inputPerMillion`, `model`, ...;
   * `line` for text that is not JSON) and the value, with `details: { source, line }` (1-based).
   */
  static parse(text: string, source = 'price table'): PriceTable {
    if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
    return new PriceTable(parsePriceEntries(text, nonEmptyString('source', source)));
  }

  /** Reads and parses a price table file (see {@link PriceTable.parse}); INVALID_ARGUMENT naming `path` when it cannot be read. */
  static async load(path: string): Promise<PriceTable> {
    nonEmptyString('path', path);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new ModelpoolError('INVALID_ARGUMENT', `Cannot read the price table ${path}: ${(error as Error).message}`, {
        field: 'path',
        value: path,
        cause: error,
      });
    }
    return PriceTable.parse(text, path);
  }

  /** Entries, in table order (copies). */
  get entries(): PriceEntry[] {
    return this.#entries.map((entry) => ({ ...entry }));
  }

  get size(): number {
    return this.#entries.length;
  }

  /**
   * The price of `model` at `provider`: an exact entry, else the matching glob with the most literal
   * characters (then the fewest `*`, then the first in the table); undefined when none matches.
   */
  price(provider: string, model: string): PriceEntry | undefined {
    nonEmptyString('provider', provider);
    nonEmptyString('model', model);
    let best: Compiled | undefined;
    for (const candidate of this.#byProvider.get(provider) ?? []) {
      if (!candidate.glob) {
        if (candidate.entry.model === model) return { ...candidate.entry };
        continue;
      }
      if (!globMatches(candidate.entry.model, model)) continue;
      if (best === undefined || candidate.literals > best.literals || (candidate.literals === best.literals && candidate.stars < best.stars)) {
        best = candidate;
      }
    }
    return best === undefined ? undefined : { ...best.entry };
  }

  /** The entries, for JSON.stringify (a table round-trips through {@link PriceTable.parse}). */
  toJSON(): PriceEntry[] {
    return this.entries;
  }
}

function compile(entry: PriceEntry): Compiled {
  const stars = entry.model.split('*').length - 1;
  return { entry, glob: stars > 0, literals: entry.model.length - stars, stars };
}

/**
 * Whether `text` matches `pattern`, where `*` matches any run of characters (none included). The
 * two-pointer walk backtracks only to the last `*`, so it takes O(pattern × text) at worst, never
 * the exponential time a regular expression can take on a pattern like `*a*a*a*b`.
 */
export function globMatches(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
