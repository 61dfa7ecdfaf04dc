import type { Transaction } from '../../core/transaction-v1.js'
import { featureContractHash, type FeatureDefinition } from '../features/feature-definition.js'
import { toFeatureRow, type FeatureRowFn } from '../features/to-feature-row.js'
import { CardWindows, WARM_MAX, type CardWindowsSnapshot } from './card-windows.js'
import { eventLayoutOf, type EventLayout } from './event-layout.js'
import { windowGroupsOf } from './window-groups.js'

export interface CardFeaturesOptions {
  readonly features: readonly FeatureDefinition[]
  readonly allowedLatenessMs: number
  /** Window-state budget per partition (estimated bytes); see CardWindows.enforceBudget for the policy. */
  readonly maxStateBytes?: number
}

/** The card state of one partition after every record below an offset. */
export interface CardFeaturesSnapshot {
  readonly sinceEviction: number
  readonly windows: CardWindowsSnapshot
}

/** Rows of a batch side by side, record i's at i × width: one array per batch, not a view per record. */
export interface FeatureBatch {
  readonly rows: Float32Array
  readonly width: number
  readonly late: readonly boolean[]
  /** The time each transaction's lookup features are read at (see observe). */
  readonly lookupAtMs: readonly number[]
}

const EVICTION_EVERY_RECORDS = 5_000

/**
 * One partition's card windows and the feature rows they give: a valid, unique transaction → its row (derived and
 * window features; lookup columns are NaN until the lookups stage fills them), then into the windows unless late.
 * The stream, the restore replay and offline feature computation all call this, so a vector is computed one way.
 */
export class CardFeatures {
  readonly windows: CardWindows
  readonly #layout: EventLayout
  readonly #toRow: FeatureRowFn
  readonly #values: Float64Array
  readonly width: number
  #sinceEviction = 0
  /** Cards dropped to stay within maxStateBytes: each one's next features start from empty. */
  budgetEvictions = 0

  constructor(
    readonly options: CardFeaturesOptions,
    snapshot?: CardFeaturesSnapshot,
  ) {
    const { layout, row, horizonMs, attributesHorizonMs } = toFeatureRow(options.features)
    this.#layout = layout
    this.#toRow = row
    this.#values = new Float64Array(layout.valuesPerEvent)
    this.width = options.features.length
    const windowOptions = {
      horizonMs,
      attributesHorizonMs,
      allowedLatenessMs: options.allowedLatenessMs,
      valuesPerEvent: layout.valuesPerEvent,
    }
    this.windows = snapshot ? CardWindows.fromSnapshot(windowOptions, snapshot.windows) : new CardWindows(windowOptions)
    this.#sinceEviction = snapshot?.sinceEviction ?? 0
  }

  /** Settings that change the state, and the card log's columns: a snapshot is only valid for the same fingerprint. */
  static fingerprint(options: CardFeaturesOptions): string {
    return `${featureContractHash(options.features)}:${eventLayoutOf(windowGroupsOf(options.features)).signature}:${options.allowedLatenessMs}:${options.maxStateBytes ?? 'unbounded'}`
  }

  toSnapshot(): CardFeaturesSnapshot {
    return { sinceEviction: this.#sinceEviction, windows: this.windows.toSnapshot() }
  }

  /**
   * Rows for transactions of this partition in offset order. Each stretch's card state is loaded ahead
   * (CardWindows.warm) before it is processed: a poll's cards have mostly left the cache.
   */
  observeBatch(txs: readonly Transaction[]): FeatureBatch {
    const width = this.width
    const rows = new Float32Array(txs.length * width)
    const late: boolean[] = new Array(txs.length)
    const lookupAtMs: number[] = new Array(txs.length)
    for (let start = 0; start < txs.length; start += WARM_MAX) {
      const end = Math.min(txs.length, start + WARM_MAX)
      this.windows.warm(txs.slice(start, end))
      for (let i = start; i < end; i++) {
        const observed = this.observe(txs[i]!, rows, i * width)
        late[i] = observed.late
        lookupAtMs[i] = observed.lookupAtMs
      }
    }
    return { rows, width, late, lookupAtMs }
  }

  /**
   * The row is written at `at` of `rows` when given (`row` is then `rows`), else into a row of its own: callers
   * handling many records keep their rows side by side in one array rather than a view per record.
   */
  observe(tx: Transaction, rows?: Float32Array, at?: number): { row: Float32Array; late: boolean; lookupAtMs: number } {
    // Lookups are read at the event time, or a late transaction's at the partition's watermark: the tables may no
    // longer hold the older windows its own time would read, and what they still hold depends on how far the other
    // partitions have got, which a replay would not repeat. The watermark is this partition's alone.
    const lookupAtMs = Math.max(tx.eventTimeMs, this.windows.watermarkMs)
    const values = this.#layout.fill(tx, this.#values)
    const row = this.#toRow(tx, this.windows, values, rows, at)
    const late = this.windows.add(tx.card_id, tx.eventTimeMs, values)
    if (++this.#sinceEviction >= EVICTION_EVERY_RECORDS) {
      this.#sinceEviction = 0
      // Four table slots per record since the last sweep: a full table holds a key per two slots, so the sweep
      // outpaces key creation (one per record at most) and finds idle keys within a bounded number of records.
      this.windows.evictIdle(4 * EVICTION_EVERY_RECORDS)
      if (this.options.maxStateBytes !== undefined)
        this.budgetEvictions += this.windows.enforceBudget(this.options.maxStateBytes)
    }
    return { row, late, lookupAtMs }
  }
}
