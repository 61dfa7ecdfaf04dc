import type { Transaction } from '../../core/transaction-v1.js'
import type { CardWindows } from '../windows/card-windows.js'
import { compileWindows, type PerTransactionColumn, type WindowColumnsFn } from '../windows/compile-windows.js'
import { logHorizonsOf } from '../windows/window-groups.js'
import type { EventLayout } from '../windows/event-layout.js'
import { deriveOf } from './derived-features.js'
import type { FeatureDefinition } from './feature-definition.js'

/**
 * Writes the row at `at` of `rows` and returns `rows`; without `rows`, into a new row of its own (a view of a shared
 * buffer, see RowSlab) at 0.
 */
export type FeatureRowFn = (
  tx: Transaction,
  windows: CardWindows,
  values: Float64Array,
  rows?: Float32Array,
  at?: number,
) => Float32Array

/**
 * Transaction + the partition's card log (before this transaction is added) + the transaction's event values
 * (layout.fill) → one row in the feature-contract order. A window without delay whose filter the transaction passes
 * includes it (count + 1, sum + amount, …), so training and serving agree. Rows are float32 because that is what the
 * model reads; the scores table stores these same rounded values. Lookup columns are NaN here: fillLookups writes
 * them once the tables are complete enough.
 */
export function toFeatureRow(definitions: readonly FeatureDefinition[]): {
  readonly layout: EventLayout
  readonly row: FeatureRowFn
  /** What `row` runs: writes the row into any array, so a test can read the values before their float32 rounding. */
  readonly columns: WindowColumnsFn
  readonly horizonMs: number
  readonly attributesHorizonMs: number
} {
  const perTransaction = definitions.flatMap((d, column): PerTransactionColumn[] =>
    d.kind === 'derived' ? [{ column, value: deriveOf(d) }] : d.kind === 'lookup' ? [{ column, value: undefined }] : [],
  )
  const windows = compileWindows(definitions, perTransaction)
  const { groups, layout } = windows
  const slab = new RowSlab(definitions.length)
  const row: FeatureRowFn = (tx, cardWindows, values, into, at = 0) => {
    const out = into ?? slab.next()
    windows.columns(cardWindows, tx, values, out, into ? at : 0)
    return out
  }
  return { layout, row, columns: windows.columns, ...logHorizonsOf(groups) }
}

/**
 * Rows of their own for callers that pass no array, as views into shared 256 KiB buffers: `new Float32Array(27)`
 * allocates its bytes outside the heap, as costly as a window update; a view of a shared buffer is far cheaper
 * (`subarray` looks up a species constructor and costs more), though its garbage still brings collections (the stream
 * writes a batch's rows into one array instead). A buffer is freed once no row of it is referenced.
 */
class RowSlab {
  static readonly #FLOATS = 65_536
  #buffer = new ArrayBuffer(RowSlab.#FLOATS * 4)
  #used = 0

  constructor(readonly width: number) {}

  next(): Float32Array {
    if (this.#used + this.width > this.#buffer.byteLength / 4) {
      this.#buffer = new ArrayBuffer(Math.max(RowSlab.#FLOATS, this.width) * 4)
      this.#used = 0
    }
    const row = new Float32Array(this.#buffer, this.#used * 4, this.width)
    this.#used += this.width
    return row
  }
}
