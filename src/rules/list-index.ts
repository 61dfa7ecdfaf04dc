import type { Transaction } from '../core/transaction-v1.js'
import type { ListName } from './rule-v1.js'
import { expiresAtMs, LIST_FIELD, ListKind, listEntryKey, type ListEntryV1 } from './list-entry.js'

/** A list hit: its reason code, which is also the name it is listed under in a decision's `rules`. */
export interface ListHit {
  readonly list: ListName
  readonly kind: ListKind
  readonly code: string
}

/**
 * The allow, block and watch lists in memory: one Map per (list, kind) from value to its expiry, so the hot path
 * does a constant number of Map lookups per transaction whatever the lists' sizes. Entries are added and removed as
 * the lists topic delivers them; an expired entry stops matching at once and leaves when its tombstone arrives.
 */
export class ListIndex {
  readonly #maps = new Map<string, Map<string, number>>()
  readonly #entries = new Map<string, ListEntryV1>()
  /** (list, kind) pairs that hold at least one entry: the hot path looks only there. */
  #active: { list: ListName; kind: ListKind; field: string; map: Map<string, number>; code: string }[] = []

  get size(): number {
    return this.#entries.size
  }

  entries(): IterableIterator<ListEntryV1> {
    return this.#entries.values()
  }

  put(entry: ListEntryV1): void {
    const key = listEntryKey(entry)
    this.#entries.set(key, entry)
    this.#mapOf(entry.list, entry.kind, true)!.set(entry.value, expiresAtMs(entry))
    this.#refresh()
  }

  remove(key: string): void {
    const entry = this.#entries.get(key)
    if (!entry) return
    this.#entries.delete(key)
    this.#mapOf(entry.list, entry.kind, false)?.delete(entry.value)
    this.#refresh()
  }

  /** Whether `value` is on `list` for `kind` and not expired at `nowMs`. */
  has(list: ListName, kind: ListKind, value: string | undefined, nowMs: number): boolean {
    if (value === undefined) return false
    const expires = this.#mapOf(list, kind, false)?.get(value)
    return expires !== undefined && nowMs < expires
  }

  /** Every list the transaction's fields are on at `nowMs`, block first, then allow, then watch. */
  hits(tx: Transaction, nowMs: number): ListHit[] | undefined {
    let hits: ListHit[] | undefined
    for (const a of this.#active) {
      const value = tx[a.field as keyof Transaction]
      if (typeof value !== 'string') continue
      const expires = a.map.get(value)
      if (expires !== undefined && nowMs < expires) (hits ??= []).push({ list: a.list, kind: a.kind, code: a.code })
    }
    return hits
  }

  #mapOf(list: ListName, kind: ListKind, create: boolean): Map<string, number> | undefined {
    const key = `${list}:${kind}`
    let map = this.#maps.get(key)
    if (!map && create) this.#maps.set(key, (map = new Map()))
    return map
  }

  #refresh(): void {
    const order: ListName[] = ['block', 'allow', 'watch']
    this.#active = []
    for (const list of order)
      for (const kind of ListKind) {
        const map = this.#mapOf(list, kind, false)
        if (map && map.size > 0)
          this.#active.push({ list, kind, field: LIST_FIELD[kind], map, code: `list:${list}:${kind}` })
      }
  }
}
