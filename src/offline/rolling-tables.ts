import type { Transaction } from '../core/transaction-v1.js'
import type { LookupDistinctField, LookupFeature, LookupKey } from '../stages/features/feature-definition.js'
import type { LabelEntry } from '../stages/lookups/key-aggregate.js'
import { windowEndMs, type LookupPlan } from '../stages/lookups/lookup-plan.js'
import { hash52 } from '../stages/windows/window-groups.js'
import { COUNT, COUNT_STRIDE, DEV, KeyHistory, LAST, MAX, MIN, REF, SQ, STRIDE, SUM } from './key-history.js'
import { COUNT_ONLY, emptyMemo, memoOf, valueOf, type WindowMemo } from './window-memo.js'

/** The tables of one key kind: its keys' histories by id (the transaction's terminal_id, merchant_id…). */
interface KindTable {
  readonly kind: LookupKey
  /** The transaction's id for this kind: a property read of its own, where tx[field] would be a keyed one. */
  readonly idOf: (tx: Transaction) => string | undefined
  readonly resolutionMs: number
  readonly horizonMs: number
  readonly distinctFields: readonly LookupDistinctField[]
  readonly keys: Map<string, KeyHistory>
  /** Numbers a bucket keeps: COUNT_STRIDE when no feature of the kind reads more than counts (see `windows`). */
  stride: number
  /**
   * The distinct windows (span, delay, resolution) the kind's features read; a key keeps a WindowMemo per window.
   * `moments`: whether some feature of the window reads more than its count (sum, min, max, last, spread).
   */
  readonly windows: {
    readonly spanMs: number
    readonly delayMs: number
    readonly resolutionMs: number
    moments: boolean
  }[]
}

/** A lookup column: its feature, where in the row, its kind's table, its window there, its distinct field there. */
interface Column {
  readonly index: number
  readonly feature: LookupFeature
  readonly table: number
  readonly window: number
  readonly field: number
}

/** A label fact of a key, ready to apply: its table, its key's id and the entry the key keeps. */
export interface LabelFactEntry {
  readonly table: number
  readonly id: string
  readonly entry: LabelEntry
}

/**
 * The lookup tables of an offline pass (RollingLookups), holding what the live LookupAggregator holds for the same
 * facts and answering what fillLookups reads from it, in structures made for a pass over millions of transactions:
 * a KeyHistory per key (buckets side by side in typed arrays), keys by their plain id per kind, no record of applied
 * offsets (a file has one source, read once: nothing is re-emitted) and no change tracking (nothing is published).
 *
 * Eviction is the aggregator's rule (LookupAggregator.evict, apply's 'expired'): with the watermark W of `evict(W)`,
 * a key kind with horizon H drops the buckets ending at or before W − H and the labels of transactions before it,
 * and takes no fact below it. What each feature reads is lookupValueOf's definition, over the same sums in the same
 * order (buckets by start, facts in a bucket as applied); the lookups property test holds the two to equal rows.
 */
export class RollingTables {
  readonly #tables: KindTable[]
  readonly #columns: Column[]
  #watermarkMs = -Infinity
  /** Per table, the key history a row reads (fill), looked up once per row. */
  readonly #reading: (KeyHistory | undefined)[]
  /**
   * The last transaction added and, per table, the key history it went into: a row is mostly read right after its
   * transaction is added (its windows end a delay before it), and then need not look its keys up again. Forgotten at
   * an eviction, which may drop a key.
   */
  #addedTx: Transaction | undefined
  readonly #added: (KeyHistory | undefined)[]
  /** The window memo of a key without history. */
  readonly #empty: WindowMemo = emptyMemo(0)

  constructor(readonly plan: LookupPlan) {
    this.#tables = plan.keys.map((kind) => ({
      kind,
      idOf: idReader(kind),
      resolutionMs: plan.resolutionMs.get(kind)!,
      horizonMs: plan.horizonMs.get(kind)!,
      distinctFields: plan.distinctFields.get(kind) ?? [],
      keys: new Map(),
      windows: [],
      stride: COUNT_STRIDE,
    }))
    this.#columns = plan.columns.map(({ index, feature }) => {
      const table = this.#tables.findIndex((t) => t.kind === feature.key)
      const windows = this.#tables[table]!.windows
      let window = windows.findIndex(
        (w) => w.spanMs === feature.spanMs && w.delayMs === feature.delayMs && w.resolutionMs === feature.resolutionMs,
      )
      if (window < 0) window = windows.push({ ...feature, moments: false }) - 1
      if (!COUNT_ONLY.has(feature.aggregation)) {
        windows[window]!.moments = true
        this.#tables[table]!.stride = STRIDE
      }
      const field = feature.field === undefined ? -1 : this.#tables[table]!.distinctFields.indexOf(feature.field)
      return { index, feature, table, window, field }
    })
    this.#reading = this.#tables.map(() => undefined)
    this.#added = this.#tables.map(() => undefined)
  }

  /** Keys the tables hold now, for a bound on memory. */
  get keys(): number {
    let keys = 0
    for (const table of this.#tables) keys += table.keys.size
    return keys
  }

  /** The table index of a key kind, for label facts (labelFactEntry). */
  tableOf(kind: LookupKey): number {
    return this.#tables.findIndex((t) => t.kind === kind)
  }

  /** An on-time transaction's facts: one bucket count per key kind whose id it has. */
  addTransaction(tx: Transaction): void {
    const timeMs = tx.eventTimeMs
    const amount = tx.amount
    this.#addedTx = tx
    for (let t = 0; t < this.#tables.length; t++) {
      const table = this.#tables[t]!
      const id = table.idOf(tx)
      this.#added[t] = undefined
      if (id === undefined || timeMs < this.#watermarkMs - table.horizonMs) continue
      let history = table.keys.get(id)
      if (!history) table.keys.set(id, (history = new KeyHistory(table.distinctFields.length, table.stride)))
      this.#added[t] = history
      const slot = history.slotOf(Math.floor(timeMs / table.resolutionMs) * table.resolutionMs)
      // key-aggregate's addToBucket, on the slot's numbers.
      history.count(slot)
      const stats = history.stats
      const at = slot * STRIDE
      if (table.stride === STRIDE) {
        if (stats[at + COUNT] === 1) stats[at + REF] = amount
        stats[at + SUM] = stats[at + SUM]! + amount
        if (amount < stats[at + MIN]!) stats[at + MIN] = amount
        if (amount > stats[at + MAX]!) stats[at + MAX] = amount
        if (timeMs > stats[at + LAST]!) stats[at + LAST] = timeMs
        const deviation = amount - stats[at + REF]!
        stats[at + DEV] = stats[at + DEV]! + deviation
        stats[at + SQ] = stats[at + SQ]! + deviation * deviation
      }
      if (history.distinct) {
        const fields = table.distinctFields
        for (let f = 0; f < fields.length; f++) {
          const value = tx[fields[f]!]
          if (value === undefined) continue
          const sets = (history.distinct[slot] ??= [])
          ;(sets[f] ??= new Set()).add(hash52(value))
        }
      }
    }
  }

  /** A label's fact for one key (LabelRouter's, converted once by labelFactEntry). */
  addLabel(fact: LabelFactEntry): void {
    const table = this.#tables[fact.table]!
    if (fact.entry[1] < this.#watermarkMs - table.horizonMs) return
    let history = table.keys.get(fact.id)
    if (!history) table.keys.set(fact.id, (history = new KeyHistory(table.distinctFields.length, table.stride)))
    history.addLabel(fact.entry)
  }

  /**
   * Every transaction still to be read looks up at or after `watermarkMs`: what no window from it reaches goes, and
   * facts below that reach are refused from now on. Keys left without buckets or labels go too.
   */
  evict(watermarkMs: number): void {
    if (watermarkMs <= this.#watermarkMs) return
    this.#watermarkMs = watermarkMs
    this.#addedTx = undefined
    for (const table of this.#tables) {
      const cutMs = watermarkMs - table.horizonMs
      for (const [id, history] of table.keys) {
        history.evictBefore(cutMs, table.resolutionMs)
        if (history.empty) table.keys.delete(id)
      }
    }
  }

  /** fillLookups for these tables: the lookup columns of the row at `rowAt` of `row`, read at `atMs`. */
  fill(row: Float32Array, tx: Transaction, atMs: number, rowAt = 0): void {
    const reading = this.#reading
    const added = tx === this.#addedTx
    for (let t = 0; t < this.#tables.length; t++) {
      const table = this.#tables[t]!
      const known = added ? this.#added[t] : undefined
      if (known) reading[t] = known
      else {
        const id = table.idOf(tx)
        reading[t] = id === undefined ? undefined : table.keys.get(id)
      }
    }
    for (const column of this.#columns) {
      const feature = column.feature
      const history = reading[column.table]
      const endMs = windowEndMs(feature, atMs)
      const moments = this.#tables[column.table]!.windows[column.window]!.moments
      const memo = history
        ? memoOf(history, column.window, endMs - feature.spanMs, endMs, moments)
        : this.#emptyMemo(endMs)
      row[rowAt + column.index] = valueOf(memo, history, feature, column.field, tx.amount, atMs)
    }
  }

  #emptyMemo(endMs: number): WindowMemo {
    const memo = this.#empty
    memo.endMs = endMs
    return memo
  }
}

function idReader(kind: LookupKey): (tx: Transaction) => string | undefined {
  switch (kind) {
    case 'terminal':
      return (tx) => tx.terminal_id
    case 'merchant':
      return (tx) => tx.merchant_id
    case 'customer':
      return (tx) => tx.customer_id
    case 'device':
      return (tx) => tx.device_id
  }
}

/** A label fact as the tables keep it. */
export function labelFactEntry(
  tables: RollingTables,
  fact: {
    readonly key: string
    readonly offset: number
    readonly transactionId: string
    readonly eventTimeMs: number
    readonly reportedAtMs: number
    readonly isFraud: boolean
  },
): LabelFactEntry {
  const colon = fact.key.indexOf(':')
  return {
    table: tables.tableOf(fact.key.slice(0, colon) as LookupKey),
    id: fact.key.slice(colon + 1),
    entry: [fact.transactionId, fact.eventTimeMs, fact.reportedAtMs, fact.isFraud, fact.offset],
  }
}
