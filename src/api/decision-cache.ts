/**
 * Recent decisions by transaction_id, for idempotent retries: a retry within `ttlMs` gets the first decision without
 * producing the transaction again. Least recently used first out past `maxEntries` (the bound on memory: a decision
 * is a few hundred bytes), and an entry older than `ttlMs` is gone even if it was read since.
 *
 * | operation (maxEntries 2, ttlMs 100) | at ms | holds afterwards |
 * | ----------------------------------- | ----- | ---------------- |
 * | set a, set b                         | 0     | a, b             |
 * | get a (a becomes most recent)        | 10    | b, a             |
 * | set c (b, least recent, goes)        | 20    | a, c             |
 * | get a                                | 100   | c (a expired)    |
 */
export class DecisionCache<V> {
  readonly #entries = new Map<string, { readonly value: V; readonly expiresAtMs: number }>()
  #evicted = 0

  constructor(
    readonly options: { readonly maxEntries: number; readonly ttlMs: number },
    readonly nowMs: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.#entries.size
  }

  /** Entries dropped for room before their TTL: a retry of one of these is answered as described in the README. */
  get evicted(): number {
    return this.#evicted
  }

  get(id: string): V | undefined {
    const entry = this.#entries.get(id)
    if (!entry) return undefined
    this.#entries.delete(id)
    if (entry.expiresAtMs <= this.nowMs()) return undefined
    this.#entries.set(id, entry)
    return entry.value
  }

  /** The first value stays: a later decision for the same id (a duplicate delivered twice) does not replace it. */
  set(id: string, value: V): void {
    const nowMs = this.nowMs()
    const held = this.#entries.get(id)
    if (held && held.expiresAtMs > nowMs) return
    this.#entries.delete(id)
    this.#entries.set(id, { value, expiresAtMs: nowMs + this.options.ttlMs })
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.options.maxEntries && entry.expiresAtMs > nowMs) break
      this.#entries.delete(oldest)
      if (entry.expiresAtMs > nowMs) this.#evicted++
    }
  }
}
