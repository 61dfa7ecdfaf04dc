import { partitionOf, type Partitioner } from '../adapters/kafka/partitioner.js'
import { stat } from 'node:fs/promises'
import { ENVELOPE_PREFIX, forEachLine, parseDumpLine, readLines, type DumpRecord } from './dump-line.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { Label } from '../core/label-v1.js'
import type { Transaction } from '../core/transaction-v1.js'
import { decodeLabel, decodeLabelText, type LabelDecodeResult } from '../stages/decode/decode-transaction.js'
import type { FeatureDefinition } from '../stages/features/feature-definition.js'
import type { KeyedFact } from '../stages/lookups/lookup-facts.js'
import { lookupPlanOf, type LookupPlan } from '../stages/lookups/lookup-plan.js'
import { OfflineLookups } from '../stages/lookups/offline-lookups.js'
import { needsAttribution } from '../stages/lookups/label-attribution.js'
import { TransactionIndex } from '../stages/lookups/transaction-index.js'
import { LookupsThread } from './lookups-thread.js'
import { partitionStateOptions, type ProcessedRecord } from './partition-state.js'
import { PartitionedStates } from './partitioned-states.js'
import { RollingLookups } from './rolling-lookups.js'

export interface FeatureFileOptions {
  /** Transactions, one value or `kcat -C -J` envelope a line; `.gz` is gunzipped. */
  readonly transactionsPath: string
  /** Label v1 records in topic order, as the transactions; without them label-based lookups read 0. */
  readonly labelsPath?: string
  readonly features: readonly FeatureDefinition[]
  readonly config: Pick<Config, 'decode' | 'dedupe' | 'windows'>
  readonly partitions: number
  readonly labelPartitions: number
  readonly partitioner: Partitioner
  /**
   * The target label of a row is the latest one reported at or before this time (ms); later labels still feed the
   * label-based features, which count labels by report time as the stream did. Default: every label.
   */
  readonly labelCutoffMs?: number
  /**
   * Whether the lookup tables run on a worker thread of their own (LookupsThread), beside reading, decoding and the card
   * windows; the columns are the same numbers either way. Default: when the features have lookups and the file is at
   * least LOOKUPS_THREAD_MIN_BYTES (a worker takes a few hundred milliseconds to start).
   */
  readonly lookupsThread?: boolean
  /** Lines read so far, every 10,000 lines: 'lookups' only for the attribution pass (see computeFeatureFile). */
  readonly onProgress?: (phase: 'lookups' | 'features', lines: number) => void
}

/** One feature row, in file order: the transaction, its vector, and its target label at the cutoff. */
export interface FeatureFileRow {
  readonly tx: Transaction
  readonly row: Float32Array
  /** Scored with the state as it was, and kept out of the windows, as in the stream. */
  readonly late: boolean
  readonly label: Label | undefined
  /** Where the row's record is: its line of the file, and its envelope's partition, offset and timestamp if any. */
  readonly source: RecordPosition & { readonly line: number }
}

export interface FeatureFileCounts {
  lines: number
  rows: number
  invalid: number
  duplicates: number
  late: number
  budget_evictions: number
  late_labels: number
  unattributed_labels: number
  invalid_labels: number
}

export interface FeatureFileResult {
  readonly counts: FeatureFileCounts
  /** The first few line numbers of each kind of skipped line, for a person to look at. */
  readonly invalidLines: readonly number[]
  readonly invalidLabelLines: readonly number[]
}

/** How many skipped line numbers are kept to show. */
export const SHOWN_LINES = 10

const PROGRESS_LINES = 10_000

/** The file size from which the lookups get a thread of their own by default: about 30,000 generated transactions. */
export const LOOKUPS_THREAD_MIN_BYTES = 10 * 2 ** 20

/**
 * Point-in-time feature vectors for a file of transactions, through the same PartitionState the stream uses
 * (decode → dedupe → windows → feature row), for `fraudstream features` and `fraudstream train --transactions <file>`.
 * As in the stream, each partition of the transactions topic (by card_id, as the producer's partitioner put it) has
 * its own watermark, dedupe and state, and each labels partition (by transaction_id) its own label watermark: the
 * file must hold each partition's records in the topic's order (a dump of the topic, or event order). A dump by
 * `kcat -C -J` gives each record its partition, so no partitioner is assumed, and its Kafka timestamp, so event times
 * too far ahead of it are invalid as in the stream (decode.maxEventTimeAheadMs); bare values have neither. Lookup
 * features (terminal, merchant) read tables fed, in one pass with the rows, by every on-time transaction and every
 * label, as the stream's tables are: each row waits until every partition's watermark has passed its windows' end
 * (RollingLookups), so it reads what the complete tables would, and buckets older than the longest lookup horizon are
 * evicted by the live aggregator's rule, so memory does not grow with the file's history. Rows reach `onRow` in file
 * order. A first, decode-only pass over the transactions runs only when some label lacks the fields its lookup facts
 * need and must be attributed from its transaction.
 */
export async function computeFeatureFile(
  options: FeatureFileOptions,
  onRow: (row: FeatureFileRow) => void | Promise<void>,
): Promise<FeatureFileResult> {
  const plan = lookupPlanOf(options.features, options.config.windows.allowedLatenessMs)
  // Started first: the worker loads while the labels are read.
  const thread =
    plan.columns.length > 0 &&
    (options.lookupsThread ?? (await stat(options.transactionsPath)).size >= LOOKUPS_THREAD_MIN_BYTES)
      ? new LookupsThread<FeatureFileRow>(plan)
      : undefined
  try {
    return await featureRows(options, onRow, plan, thread)
  } finally {
    await thread?.close()
  }
}

/** computeFeatureFile with its lookup plan, and the lookups thread when they have one. */
async function featureRows(
  options: FeatureFileOptions,
  onRow: (row: FeatureFileRow) => void | Promise<void>,
  plan: LookupPlan,
  thread: LookupsThread<FeatureFileRow> | undefined,
): Promise<FeatureFileResult> {
  const { partitions, labelPartitions, partitioner } = options
  const stateOptions = partitionStateOptions(options.config, options.features)
  // Routed once the first pass has seen the transactions: a label carrying the transaction id alone is attributed
  // from its transaction, as the stream attributes it from `scores`. Only their ids are indexed.
  const routed: { label: Label; partition: number | undefined }[] = []
  const toAttribute = new Set<string>()
  const cutoffMs = options.labelCutoffMs ?? Infinity
  // The latest label per transaction known at the cutoff; every valid label (in file order) feeds the lookups.
  const labels = new Map<string, Label>()
  const invalidLabelLines: number[] = []
  let invalidLabels = 0
  if (options.labelsPath) {
    const labelsPath = options.labelsPath
    const decodeOptions = { maxRecordBytes: options.config.decode.maxRecordBytes }
    await forEachLine(labelsPath, (piece, text, start, end, lineNumber) => {
      let decoded: LabelDecodeResult
      let partition: number | undefined
      if (text !== undefined && text.charCodeAt(start) === OPEN_BRACE && !text.startsWith(ENVELOPE_PREFIX, start))
        decoded = decodeLabelText(text.slice(start, end), decodeOptions)
      else {
        const line = piece.subarray(start, end)
        if (line.toString('latin1').trim() === '') return
        const record = parseDumpLine(line)
        if (record.partition !== undefined && !(record.partition < labelPartitions)) {
          throw new FraudstreamError(
            ErrorCode.usage,
            `line ${lineNumber} of ${labelsPath} is a record of labels partition ${record.partition}, with --label-partitions ${labelPartitions}: give the topic's partition count`,
            'input',
          )
        }
        partition = record.partition
        decoded = decodeLabel(record.value, decodeOptions)
      }
      // The stream dead-letters an invalid label and goes on: so does this, and says which lines.
      if (decoded.kind === 'invalid') {
        if (invalidLabels++ < SHOWN_LINES) invalidLabelLines.push(lineNumber)
        return
      }
      const label = decoded.label
      routed.push({ label, partition })
      if (needsAttribution(plan, label)) toAttribute.add(label.transaction_id)
      if (label.reportedAtMs > cutoffMs) return
      // Equal report times: the later record wins, as the topic's offset order decides in latest_labels.
      const known = labels.get(label.transaction_id)
      if (!known || known.reportedAtMs <= label.reportedAtMs) labels.set(label.transaction_id, label)
    })
  }
  const lookups = new OfflineLookups(plan, options.config.windows.allowedLatenessMs, {
    labelPartitionOf: (label) => partitionOf(label.transaction_id, labelPartitions, partitioner),
    index: new TransactionIndex({ only: toAttribute }),
  })
  // A first pass only when some label needs its transaction's attributes: decoding finds them (the first valid
  // transaction of an id is the one the stream scores), so no state is built.
  if (toAttribute.size > 0) {
    const decoder = new PartitionedStates(stateOptions, 1, partitioner).states[0]!
    let lineNumber = 0
    for await (const line of readLines(options.transactionsPath)) {
      const record = parseDumpLine(line)
      const decoded = decoder.decode(record.value, record.timestampMs)
      if (decoded.kind === 'ok') lookups.indexTransaction(decoded.tx)
      if (++lineNumber % PROGRESS_LINES === 0) options.onProgress?.('lookups', lineNumber)
    }
  }
  // Handed over and let go: the pass keeps its locals alive to the end, and the facts (a few objects per label) are
  // the tables' to keep, on the worker or in RollingLookups' own form.
  let labelFacts: KeyedFact[] | undefined = routed.flatMap(({ label, partition }) =>
    lookups.routeLabel(label, partition),
  )
  routed.length = 0
  const counts: FeatureFileCounts = {
    lines: 0,
    rows: 0,
    invalid: 0,
    duplicates: 0,
    late: 0,
    budget_evictions: 0,
    late_labels: lookups.lateLabels,
    unattributed_labels: lookups.unattributedLabels,
    invalid_labels: invalidLabels,
  }
  const invalidLines: number[] = []
  await thread?.labels(labelFacts)
  const lookupRows = thread ?? new RollingLookups<FeatureFileRow>(plan, labelFacts)
  labelFacts = undefined
  // The rows whose lookup columns are written, handed on; a promise only when onRow returned one, or when the lookups
  // thread has too much unanswered and the reading waits for it.
  const emit = (completeBelowMs: number): Promise<void> | undefined => {
    for (let row = nextRow(completeBelowMs); row; row = nextRow(completeBelowMs)) {
      const done = onRow(row)
      counts.rows++
      if (done) return done.then(() => emit(completeBelowMs))
    }
    if (lookupRows instanceof LookupsThread && lookupRows.mustWait())
      return lookupRows.answer().then(() => emit(completeBelowMs))
    return undefined
  }
  const nextRow = (completeBelowMs: number): FeatureFileRow | undefined =>
    lookupRows instanceof LookupsThread ? lookupRows.take() : lookupRows.next(completeBelowMs)
  const rows = new RowBlocks(options.features.length)
  const states = await forEachTransaction(
    options.transactionsPath,
    new PartitionedStates(stateOptions, partitions, partitioner),
    rows,
    (processed, lineNumber, states, position) => {
      counts.lines++
      if (lineNumber % PROGRESS_LINES === 0) options.onProgress?.('features', lineNumber)
      if (processed.kind === 'invalid') {
        if (counts.invalid++ < SHOWN_LINES) invalidLines.push(lineNumber)
      } else if (processed.kind === 'duplicate') counts.duplicates++
      else {
        if (processed.late) counts.late++
        const { tx, late } = processed
        const row = rows.take()
        const source = position === BARE ? { line: lineNumber } : { ...position, line: lineNumber }
        const fileRow = { tx, row, late, label: labels.get(tx.transaction_id), source }
        if (lookupRows instanceof LookupsThread) lookupRows.add(fileRow, late, processed.lookupAtMs, states.watermarkMs)
        else lookupRows.add(fileRow, late, processed.lookupAtMs)
        return emit(states.watermarkMs)
      }
      return undefined
    },
  )
  // The end of the file: nothing more can come, every table is complete.
  if (lookupRows instanceof LookupsThread) {
    lookupRows.end()
    while (!lookupRows.done) {
      await lookupRows.answer()
      await emit(Infinity)
    }
  }
  await emit(Infinity)
  counts.budget_evictions = states.budgetEvictions
  return { counts, invalidLines, invalidLabelLines }
}

/** Where a record was in its topic, as far as its line says (a bare value says nothing). */
type RecordPosition = Omit<DumpRecord, 'value'>

const BARE: RecordPosition = {}
const OPEN_BRACE = 0x7b

/**
 * Every line of the file (a value, or a dump's envelope) through its partition's state; returns the states. A piece
 * of the file that is all ASCII (as generated and most exported files are) is read as one string, its bare values
 * decoded from slices of it (decodeTransactionText); anything else line by line from its bytes (parseDumpLine).
 */
async function forEachTransaction(
  path: string,
  states: PartitionedStates,
  rows: RowBlocks,
  onRecord: (
    processed: ProcessedRecord,
    lineNumber: number,
    states: PartitionedStates,
    position: RecordPosition,
  ) => void | Promise<void>,
): Promise<PartitionedStates> {
  await forEachLine(path, (piece, text, start, end, lineNumber) => {
    let processed: ProcessedRecord
    let position = BARE
    try {
      if (text !== undefined && !text.startsWith(ENVELOPE_PREFIX, start))
        processed = states.processText(text.slice(start, end), rows.block, rows.at)
      else {
        const record = parseDumpLine(piece.subarray(start, end))
        processed = states.process(record.value, record, rows.block, rows.at)
        if (record.partition !== undefined) position = positionOf(record)
      }
    } catch (err) {
      if (!(err instanceof FraudstreamError)) throw err
      throw new FraudstreamError(err.code, `line ${lineNumber} of ${path}: ${err.message}`, err.domain, err.retryable, {
        cause: err,
      })
    }
    return onRecord(processed, lineNumber, states, position)
  })
  return states
}

/** Rows this many to a block: a typed array per row would be an allocation outside the heap per row. */
const BLOCK_ROWS = 1024

/**
 * Where feature rows are written: views of one block at a time, each row's own stretch of it, so a row kept by the
 * caller stays as it was written.
 */
class RowBlocks {
  block: Float32Array
  at = 0

  constructor(readonly width: number) {
    this.block = new Float32Array(BLOCK_ROWS * width)
  }

  /** The row just written at `at`, as a view of its own; the next one goes after it. */
  take(): Float32Array {
    const row = this.block.subarray(this.at, this.at + this.width)
    this.at += this.width
    if (this.at === this.block.length) {
      this.block = new Float32Array(BLOCK_ROWS * this.width)
      this.at = 0
    }
    return row
  }
}

function positionOf({ partition, offset, timestampMs }: DumpRecord): RecordPosition {
  return {
    ...(partition !== undefined ? { partition } : {}),
    ...(offset !== undefined ? { offset } : {}),
    ...(timestampMs !== undefined ? { timestampMs } : {}),
  }
}
