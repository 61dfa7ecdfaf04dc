import type { Config } from '../config/schema.js'
import type { DeadLetterReason } from '../core/records.js'
import type { Transaction } from '../core/transaction-v1.js'
import { decodeTransaction } from '../stages/decode/decode-transaction.js'
import { Dedupe, type DedupeSnapshot } from '../stages/dedupe/dedupe.js'
import { featureContractHash, type DistinctField, type FeatureDefinition, type WindowFilter, type WindowKey } from '../stages/features/feature-definition.js'
import { toFeatureRow, type FeatureRowFn } from '../stages/features/to-feature-row.js'
import { CardWindows, type CardWindowsSnapshot } from '../stages/windows/card-windows.js'
import { PRIMARY_STORE_ID, passesFilter, storedValueOf, windowGroupsOf, windowKeyOf, windowStoresOf } from '../stages/windows/window-groups.js'

export interface PartitionStateOptions {
  readonly features: readonly FeatureDefinition[]
  readonly maxRecordBytes: number
  readonly dedupeHorizonMs: number
  readonly dedupeMaxEntries: number
  readonly allowedLatenessMs: number
  /** Window-state budget per partition (estimated bytes); see CardWindows.enforceBudget for the policy. */
  readonly maxStateBytes?: number
}

export type ProcessedRecord =
  | { readonly kind: 'invalid'; readonly reason: DeadLetterReason; readonly message: string }
  | { readonly kind: 'duplicate'; readonly tx: Transaction }
  | { readonly kind: 'features'; readonly tx: Transaction; readonly row: Float32Array; readonly late: boolean }

const EVICTION_EVERY_RECORDS = 5_000

/** The state settings of a configuration: the job, `fraudstream features` and training must all agree on them. */
export function partitionStateOptions(config: Pick<Config, 'decode' | 'dedupe' | 'windows'>, features: readonly FeatureDefinition[]): PartitionStateOptions {
  return {
    features,
    maxRecordBytes: config.decode.maxRecordBytes,
    dedupeHorizonMs: config.dedupe.horizonMs,
    dedupeMaxEntries: config.dedupe.maxEntriesPerPartition,
    allowedLatenessMs: config.windows.allowedLatenessMs,
    maxStateBytes: config.windows.maxStateBytesPerPartition,
  }
}

/** A partition's state after every record below `offset`: what recovery loads instead of replaying from the start. */
export interface PartitionSnapshot {
  readonly version: 1
  /** State computed under other feature definitions or settings would give other vectors: such snapshots are ignored. */
  readonly fingerprint: string
  readonly offset: number
  readonly sinceEviction: number
  readonly dedupe: DedupeSnapshot
  /** One store per window key and filter, by store id. */
  readonly windows: readonly (readonly [string, CardWindowsSnapshot])[]
}

/**
 * The stateful part of the dataflow for one source partition: decode → dedupe → windows → feature row.
 * The live job, the restore replay and offline feature computation (training, backtests) all run records through
 * this one class, so a feature vector is computed one way everywhere.
 */
export class PartitionState {
  readonly dedupe: Dedupe
  /** The unfiltered card store: it decides lateness for every store. */
  readonly windows: CardWindows
  readonly stores: ReadonlyMap<string, CardWindows>
  /** The stores other than the primary: each gets the transactions passing its filter. */
  readonly #secondary: readonly { id: string; key: WindowKey; filter: WindowFilter | undefined; field: DistinctField | undefined }[]
  readonly #toRow: FeatureRowFn
  #sinceEviction = 0
  /** Keys dropped to stay within maxStateBytes: each one's next features start from empty. */
  budgetEvictions = 0

  constructor(readonly options: PartitionStateOptions, snapshot?: PartitionSnapshot) {
    const dedupeOptions = { horizonMs: options.dedupeHorizonMs, maxEntries: options.dedupeMaxEntries }
    this.dedupe = snapshot ? Dedupe.fromSnapshot(dedupeOptions, snapshot.dedupe) : new Dedupe(dedupeOptions)
    const saved = new Map(snapshot?.windows ?? [])
    const stores = new Map<string, CardWindows>()
    const secondary: { id: string; key: WindowKey; filter: WindowFilter | undefined; field: DistinctField | undefined }[] = []
    for (const [id, spec] of windowStoresOf(windowGroupsOf(options.features))) {
      const windowOptions = { maxSpanMs: spec.horizonMs, allowedLatenessMs: options.allowedLatenessMs }
      const state = saved.get(id)
      stores.set(id, state ? CardWindows.fromSnapshot(windowOptions, state) : new CardWindows(windowOptions))
      if (id !== PRIMARY_STORE_ID) secondary.push({ id, key: spec.key, filter: spec.filter, field: spec.field })
    }
    this.#secondary = secondary
    this.stores = stores
    this.windows = stores.get(PRIMARY_STORE_ID)!
    this.#sinceEviction = snapshot?.sinceEviction ?? 0
    this.#toRow = toFeatureRow(options.features)
  }

  get estimatedBytes(): number {
    let total = 0
    for (const store of this.stores.values()) total += store.estimatedBytes
    return total
  }

  /** Settings that change computed state; a snapshot is only valid for the same fingerprint. */
  static fingerprint(options: PartitionStateOptions): string {
    return `${featureContractHash(options.features)}:${options.dedupeHorizonMs}:${options.dedupeMaxEntries}:${options.allowedLatenessMs}:${options.maxRecordBytes}:${options.maxStateBytes ?? 'unbounded'}`
  }

  toSnapshot(offset: number): PartitionSnapshot {
    return { version: 1, fingerprint: PartitionState.fingerprint(this.options), offset, sinceEviction: this.#sinceEviction, dedupe: this.dedupe.toSnapshot(), windows: [...this.stores].map(([id, store]) => [id, store.toSnapshot()] as const) }
  }

  process(value: Uint8Array | null): ProcessedRecord {
    const decoded = decodeTransaction(value, { maxRecordBytes: this.options.maxRecordBytes })
    if (decoded.kind === 'invalid') return decoded
    const tx = decoded.tx
    if (this.dedupe.isDuplicate(tx.transaction_id, tx.eventTimeMs)) return { kind: 'duplicate', tx }
    return { kind: 'features', tx, ...this.observe(tx) }
  }

  /**
   * A valid, unique transaction → its feature row, then into the windows (unless late). The windows part of
   * `process`, on its own for benchmarks and offline tools that already hold decoded transactions.
   */
  observe(tx: Transaction): { row: Float32Array; late: boolean } {
    const row = this.#toRow(tx, this.stores)
    const { late } = this.windows.add(tx.card_id, tx.eventTimeMs, tx.amount)
    if (!late) {
      // A store's watermark never passes the primary's, so what is on time there is on time in every store.
      for (const store of this.#secondary) {
        if (!passesFilter(store.filter, tx)) continue
        const value = storedValueOf(store.field, tx)
        if (value !== undefined) this.stores.get(store.id)!.add(windowKeyOf(store.key, tx), tx.eventTimeMs, value)
      }
    }
    if (++this.#sinceEviction >= EVICTION_EVERY_RECORDS) {
      this.#sinceEviction = 0
      const budgetPerStore = this.options.maxStateBytes === undefined ? undefined : this.options.maxStateBytes / this.stores.size
      for (const store of this.stores.values()) {
        // Twice as many keys as records since the last sweep: faster than keys can be created, so idle keys
        // are found within a bounded number of records however many keys there are.
        store.evictIdle(2 * EVICTION_EVERY_RECORDS)
        if (budgetPerStore !== undefined) this.budgetEvictions += store.enforceBudget(budgetPerStore)
      }
    }
    return { row, late }
  }
}
