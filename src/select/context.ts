/**
 * Context keys: `task|bucket|tags`, where bucket is the prompt length rounded up to a power of 4
 * ('<=64', '<=256', '<=1024', ...; '*' when unknown) and tags are the request's context tags, sorted
 * and de-duplicated, joined by ','. Posteriors are kept per key, so a model that wins short prompts
 * and one that wins long ones are both learned.
 */

/** The index of a prompt length's bucket: 0 up to 64 tokens, 1 up to 256, ...; -1 unknown. */
function bucketIndex(promptTokens: number | undefined): number {
  if (promptTokens === undefined) return -1;
  let index = 0;
  for (let limit = 64; limit < promptTokens; limit *= 4) index++;
  return index;
}

/** The bucket label of a prompt length: '<=64' up to 64 tokens, then each power of 4; '*' unknown. */
export function promptBucket(promptTokens: number | undefined): string {
  const index = bucketIndex(promptTokens);
  return index < 0 ? '*' : `<=${64 * 4 ** index}`;
}

/** The context key of a task, prompt length and tags. */
export function contextKey(task: string, promptTokens: number | undefined, tags: readonly string[] | undefined): string {
  const bucket = promptBucket(promptTokens);
  if (tags === undefined || tags.length === 0) return `${task}|${bucket}|`;
  if (tags.length === 1) return `${task}|${bucket}|${tags[0]}`;
  const sorted = [...new Set(tags)].sort();
  return `${task}|${bucket}|${sorted.join(',')}`;
}

/** Interns context keys as small integers (arms index their contexts by them). */
export class ContextKeys {
  readonly #ids = new Map<string, number>();
  readonly #keys: string[] = [];
  /** Ids of the keys without tags, per task and bucket index + 1 (what most requests have): no string is built for them. */
  readonly #plain = new Map<string, number[]>();

  /** The id of the context key of a task, prompt length and tags (contextKey), interned. */
  of(task: string, promptTokens: number | undefined, tags: readonly string[] | undefined): number {
    if (tags !== undefined && tags.length > 0) return this.id(contextKey(task, promptTokens, tags));
    let ids = this.#plain.get(task);
    if (ids === undefined) this.#plain.set(task, (ids = []));
    const slot = bucketIndex(promptTokens) + 1;
    return (ids[slot] ??= this.id(contextKey(task, promptTokens, undefined)));
  }

  id(key: string): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#keys.length;
      this.#ids.set(key, id);
      this.#keys.push(key);
    }
    return id;
  }

  key(id: number): string {
    return this.#keys[id]!;
  }
}
