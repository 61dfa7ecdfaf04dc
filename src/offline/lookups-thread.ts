import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../core/errors.js'
import type { Transaction } from '../core/transaction-v1.js'
import type { KeyedFact } from '../stages/lookups/lookup-facts.js'
import { LOOKUP_KEY_FIELD, type LookupPlan } from '../stages/lookups/lookup-plan.js'

/** What LookupsThread starts the worker with. */
export interface LookupsWorkerData {
  /** The plan with its columns numbered from 0: the worker answers the lookup columns only. */
  readonly plan: LookupPlan
  /** The transaction fields the tables read (key ids, distinct-count fields), in the order batches carry them. */
  readonly fields: readonly string[]
  /** Where the worker answers: the reading thread takes answers from it as they come, without yielding to its loop. */
  readonly answers: MessagePort
  /** Answers posted so far, at index 0: the worker adds one and notifies after each (see LookupsThread.#receive). */
  readonly posted: Int32Array
}

/**
 * Numbers a row carries in a batch, NUMBERS a row: event time, amount, lookup time, late (1) or not (0), and the least
 * watermark once it was read (the worker completes rows as the single-thread path would after it).
 */
export const NUMBERS = 5

/** A stretch of rows in file order. */
export interface RowsMessage {
  readonly kind: 'rows'
  readonly numbers: Float64Array
  /** Per field of `fields`, each row's value. */
  readonly strings: readonly (readonly (string | undefined)[])[]
}

/** The lookup columns of the rows completed since the last reply, in file order; `done` after the end. */
export interface FilledMessage {
  readonly kind: 'filled'
  readonly rows: number
  readonly values: Float32Array
  readonly done: boolean
}

/**
 * The label facts, before any row: the tables take them as the rows' windows reach their time. Sent as columns (a
 * fact's key, its transaction id, and LABEL_NUMBERS numbers: transaction time, reported_at, fraud 1 or 0, offset):
 * hundreds of thousands of objects would take the worker a second to receive.
 */
export interface LabelsMessage {
  readonly kind: 'labels'
  readonly keys: readonly string[]
  readonly transactionIds: readonly string[]
  readonly numbers: Float64Array
}

export const LABEL_NUMBERS = 4

export type ToWorker = LabelsMessage | RowsMessage | { readonly kind: 'end' }

const WORKER_URL = new URL('./lookups-worker.ts', import.meta.url)
const TSX_API = import.meta.resolve('tsx/esm/api')

/**
 * Rows a batch carries. A row waits for its columns, and the young-generation collections the reading thread runs every
 * few thousand rows copy whatever waits: small batches keep it to a few hundred rows, which then die young, while a
 * message per 256 rows is still a small share of their work.
 */
const BATCH_ROWS = 256

/** Batches the worker may have unanswered: enough to keep both threads busy, few enough to keep the rows young. */
const MAX_BATCHES_IN_FLIGHT = 4

/**
 * How long the reading thread blocks for an answer when too many are unanswered, before it yields to its event loop
 * instead (where a failed worker's error arrives).
 */
const BLOCK_FOR_ANSWER_MS = 50

/**
 * RollingLookups on a worker thread, for a pass over a file: the lookup tables are the larger half of an offline row's
 * work, and the other half (reading, decoding, card windows) needs none of them, so the two run side by side. Rows go
 * in with `add` in file order and come out of `take` in the same order with their lookup columns written, once the
 * worker has answered for them. The worker reads what the tables read of a transaction (its time, amount, key ids and
 * distinct-count fields) and nothing else, and runs the same RollingLookups as the single-thread path, so the
 * columns are the same numbers.
 */
export class LookupsThread<Row extends { readonly tx: Transaction; readonly row: Float32Array }> {
  readonly #worker: Worker
  readonly #answers: MessagePort
  readonly #postedAnswers = new Int32Array(new SharedArrayBuffer(4))
  readonly #indices: readonly number[]
  readonly #fields: readonly string[]
  /** Rows handed to the worker, oldest first, from #head; the first #filled of them have their columns. */
  #rows: (Row | undefined)[] = []
  #head = 0
  #filled = 0
  /** Columns of the filled rows not yet taken, in order, #valueAt the next one's. */
  #values: Float32Array[] = []
  #valueAt = 0
  #numbers = new Float64Array(BATCH_ROWS * NUMBERS)
  #strings: (string | undefined)[][]
  #batched = 0
  #posted = 0
  #answered = 0
  #done = false
  #failure: FraudstreamError | undefined
  #wake: (() => void) | undefined

  /** Starts the worker, which loads while the caller reads the labels; `labels` must come before the first row. */
  constructor(plan: LookupPlan) {
    this.#indices = plan.columns.map((c) => c.index)
    const fields = new Set<string>(plan.keys.map((kind) => LOOKUP_KEY_FIELD[kind]))
    for (const kindFields of plan.distinctFields.values()) for (const field of kindFields) fields.add(field)
    this.#fields = [...fields]
    this.#strings = this.#fields.map(() => [])
    const { port1, port2 } = new MessageChannel()
    this.#answers = port1
    const workerData: LookupsWorkerData = {
      plan: { ...plan, columns: plan.columns.map(({ feature }, index) => ({ index, feature })) },
      fields: this.#fields,
      answers: port2,
      posted: this.#postedAnswers,
    }
    // The worker is TypeScript, and a worker inherits neither tsx's loader nor (on Node 20) an --import of it: a
    // script registers the loader in the worker, then imports the worker's module.
    const script = `import(${JSON.stringify(TSX_API)}).then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}) })`
    this.#worker = new Worker(script, { eval: true, workerData, env: {}, transferList: [port2] })
    // Answers the reading thread has not taken itself (see #receive) arrive here when it yields.
    this.#answers.on('message', (message: FilledMessage) => this.#onAnswer(message))
    this.#worker.on('error', (err) => this.#fail(err))
    this.#worker.on('exit', (code) => {
      if (!this.#done) this.#fail(new Error(`the lookups worker exited with code ${code} before the end of the file`))
    })
  }

  /**
   * Every label fact of the pass (OfflineLookups.routeLabel's), once, before the first row; resolves once the worker
   * has its tables. Rows added before that would wait for it all at once, and a young-generation collection finding
   * nearly every row it copies still waiting may decide to place all later rows in the old generation.
   */
  async labels(facts: readonly KeyedFact[]): Promise<void> {
    const labelFacts = facts.filter((fact) => fact.kind === 'label')
    const numbers = new Float64Array(labelFacts.length * LABEL_NUMBERS)
    labelFacts.forEach((fact, i) => {
      numbers.set([fact.eventTimeMs, fact.reportedAtMs, fact.isFraud ? 1 : 0, fact.offset], i * LABEL_NUMBERS)
    })
    const message: LabelsMessage = {
      kind: 'labels',
      keys: labelFacts.map((fact) => fact.key),
      transactionIds: labelFacts.map((fact) => fact.transactionId),
      numbers,
    }
    this.#worker.postMessage(message, [numbers.buffer])
    // The worker answers the labels as it answers a batch, with no rows.
    this.#posted++
    while (this.#answered < this.#posted) await this.answer()
  }

  /** A row in file order, with its lookup time, after the least watermark has become `completeBelowMs`. */
  add(row: Row, late: boolean, atMs: number, completeBelowMs: number): void {
    const tx = row.tx as unknown as Record<string, string | undefined>
    const at = this.#batched * NUMBERS
    this.#numbers[at] = row.tx.eventTimeMs
    this.#numbers[at + 1] = row.tx.amount
    this.#numbers[at + 2] = atMs
    this.#numbers[at + 3] = late ? 1 : 0
    this.#numbers[at + 4] = completeBelowMs
    for (let f = 0; f < this.#fields.length; f++) this.#strings[f]![this.#batched] = tx[this.#fields[f]!]
    this.#rows.push(row)
    if (++this.#batched === BATCH_ROWS) this.#post()
  }

  /** The next row with its lookup columns written, in file order; undefined until the worker has answered for it. */
  take(): Row | undefined {
    this.#throwIfFailed()
    if (this.#head === this.#filled) this.#receive()
    if (this.#head === this.#filled) return undefined
    const row = this.#rows[this.#head]!
    // Let go of it at once: the array is compacted only now and then, and a taken row is the caller's to keep or drop.
    this.#rows[this.#head++] = undefined
    const values = this.#values[0]!
    for (let c = 0; c < this.#indices.length; c++) row.row[this.#indices[c]!] = values[this.#valueAt++]!
    if (this.#valueAt === values.length) {
      this.#values.shift()
      this.#valueAt = 0
    }
    if (this.#head > 4096 && this.#head * 2 > this.#rows.length) {
      this.#rows.splice(0, this.#head)
      this.#filled -= this.#head
      this.#head = 0
    }
    return row
  }

  /**
   * Whether the caller must wait for an answer (`answer()`) before adding more: too many batches are unanswered even
   * after blocking up to BLOCK_FOR_ANSWER_MS for the next one.
   */
  mustWait(): boolean {
    if (this.#posted - this.#answered < MAX_BATCHES_IN_FLIGHT) return false
    Atomics.wait(this.#postedAnswers, 0, this.#answered, BLOCK_FOR_ANSWER_MS)
    this.#receive()
    return this.#posted - this.#answered >= MAX_BATCHES_IN_FLIGHT
  }

  /** Whether every row is filled: after `end`, once the worker has answered for the last one. */
  get done(): boolean {
    return this.#done
  }

  /** Resolves at the worker's next answer (or rejects with its failure). */
  answer(): Promise<void> {
    this.#throwIfFailed()
    return new Promise<void>((resolve) => (this.#wake = resolve)).then(() => this.#throwIfFailed())
  }

  /** The end of the file: the rows still batched go, and every waiting row is filled (nothing more can come). */
  end(): void {
    if (this.#batched > 0) this.#post()
    this.#posted++
    this.#worker.postMessage({ kind: 'end' } satisfies ToWorker)
  }

  async close(): Promise<void> {
    this.#done = true
    this.#answers.close()
    await this.#worker.terminate()
  }

  /**
   * Takes the answers already posted without waiting for the event loop to deliver them, so that rows leave as soon as
   * their columns exist: a row waiting longer survives the young-generation collections.
   */
  #receive(): void {
    if (Atomics.load(this.#postedAnswers, 0) === this.#answered) return
    for (let got = receiveMessageOnPort(this.#answers); got; got = receiveMessageOnPort(this.#answers))
      this.#onAnswer(got.message as FilledMessage)
  }

  #onAnswer(message: FilledMessage): void {
    this.#answered++
    if (message.rows > 0) this.#values.push(message.values)
    this.#filled += message.rows
    if (message.done) this.#done = true
    this.#wakeUp()
  }

  #post(): void {
    const message: ToWorker = {
      kind: 'rows',
      numbers: this.#numbers.subarray(0, this.#batched * NUMBERS),
      strings: this.#strings,
    }
    this.#worker.postMessage(message, [this.#numbers.buffer as ArrayBuffer])
    this.#numbers = new Float64Array(BATCH_ROWS * NUMBERS)
    this.#strings = this.#fields.map(() => [])
    this.#batched = 0
    this.#posted++
  }

  #fail(err: unknown): void {
    this.#failure ??=
      err instanceof FraudstreamError
        ? err
        : new FraudstreamError(
            ErrorCode.internal,
            `the lookups worker failed: ${errorMessageOf(err)}`,
            'internal',
            false,
            {
              cause: err,
            },
          )
    this.#wakeUp()
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure
  }
}
