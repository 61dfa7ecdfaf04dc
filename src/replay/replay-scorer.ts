import type { Clock } from '../core/clock.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { Scorer, ScoreSink, SourceRecord } from '../core/ports.js'
import type { Item, Stage, StageContext } from '../core/stage.js'
import type { Transaction } from '../core/transaction-v1.js'
import { decideStage, type Decided } from '../stages/decide/decide-stage.js'
import { fallbackRulesOf } from '../stages/decide/fallback-rules.js'
import type { Config } from '../config/schema.js'
import { scoreStage, type ScoredValue } from '../stages/infer/score-stage.js'
import type { Featured } from '../stages/windows/card-windows-stage.js'
import { scoreRowsOf } from '../stages/sinks/scores-sink.js'

/** A transaction to score: its feature row (copied, so the caller may reuse its array) and where its record is. */
export interface ReplayRecord {
  readonly tx: Transaction
  readonly row: Float32Array
  readonly late: boolean
  readonly origin: Pick<SourceRecord, 'topic' | 'partition' | 'offset' | 'timestampMs'>
}

export interface ReplayScorerOptions {
  readonly scorer: Scorer
  readonly sink: ScoreSink
  readonly config: Pick<Config, 'thresholds' | 'infer'>
  readonly featureNames: readonly string[]
  readonly featureContract: string
  readonly runId: string
  /** Rows per scoring batch. */
  readonly batchRows: number
  /** Batches at the scorer at once; their rows reach the sink in order all the same. */
  readonly concurrency: number
  /** Transactions handed to the sink and not yet acknowledged, at most: a slow ClickHouse slows the replay down. */
  readonly maxUnacked: number
  /** Per transaction handed to the sink, with its decision. */
  readonly onDecided?: (decided: Decided, origin: ReplayRecord['origin']) => void
}

/**
 * The stream's own score and decide stages (scoreStage, decideStage), driven outside the runtime: batches of feature
 * rows → every model's score, the deciding model's decision with its reasons and explanation → `scores` rows built
 * by the stream's row builder under the replay's run id. What differs from live is only what depends on the wall
 * clock: `decided_at` is the record's timestamp and `latency_ms` 0, so two replays of the same input write identical
 * rows. A batch the models cannot score fails the replay instead of falling back to the rules: a backtest of a
 * model must not silently hold the rules' decisions.
 */
export class ReplayScorer {
  readonly #options: ReplayScorerOptions
  readonly #score: Stage<Featured, ScoredValue>
  readonly #decide: Stage<ScoredValue, Decided>
  readonly #width: number
  #pending: ReplayRecord[] = []
  /** Batches sent to the scorer, oldest first: their rows go to the sink in this order. */
  readonly #inFlight: Promise<() => void>[] = []
  #failure: Error | undefined
  #written = 0
  #unacked = 0
  readonly #ackWaiters: (() => void)[] = []
  readonly #onAck = () => {
    this.#unacked--
    if (this.#unacked <= this.#options.maxUnacked) for (const wake of this.#ackWaiters.splice(0)) wake()
  }

  constructor(options: ReplayScorerOptions) {
    this.#options = options
    this.#width = options.featureNames.length
    const { config } = options
    this.#score = scoreStage('score', {
      scorer: options.scorer,
      // Time must not change a replay's rows: no deadline, and a failed batch fails the replay (onFallback).
      deadlineMs: 0,
      concurrency: options.concurrency,
      thresholds: config.thresholds,
      onFallback: (_reason, _records, err) => {
        this.#failure ??= err
      },
    })
    this.#decide = decideStage('decide', {
      thresholds: config.thresholds,
      featureNames: options.featureNames,
      fallbackRules: fallbackRulesOf(config.infer.fallback.rules, options.featureNames),
    })
  }

  /** Transactions handed to the sink so far. */
  get written(): number {
    return this.#written
  }

  /** Queues a transaction; a full batch goes to the scorer, waiting first while `concurrency` batches are there. */
  async add(record: ReplayRecord): Promise<void> {
    this.#pending.push({ ...record, row: record.row.slice(0, this.#width) })
    if (this.#pending.length >= this.#options.batchRows) await this.#send()
  }

  /** Sends a partial batch to the scorer now (paced replays wait between transactions). */
  async sendPending(): Promise<void> {
    if (this.#pending.length > 0) await this.#send()
  }

  /** Scores what is queued and hands every row to the sink (the sink's own flush makes them durable). */
  async drain(): Promise<void> {
    if (this.#pending.length > 0) await this.#send()
    while (this.#inFlight.length > 0) (await this.#inFlight.shift()!)()
  }

  async #send(): Promise<void> {
    const records = this.#pending
    this.#pending = []
    while (this.#inFlight.length >= this.#options.concurrency) (await this.#inFlight.shift()!)()
    while (this.#unacked > this.#options.maxUnacked) await new Promise<void>((wake) => this.#ackWaiters.push(wake))
    this.#inFlight.push(this.#scoreBatch(records))
  }

  /** Scores and decides a batch; resolves to the function that hands its rows to the sink, called in batch order. */
  async #scoreBatch(records: readonly ReplayRecord[]): Promise<() => void> {
    const width = this.#width
    const rows = new Float32Array(records.length * width)
    const items: Item<Featured>[] = records.map((r, i) => {
      rows.set(r.row, i * width)
      return {
        origin: { ...r.origin, key: null, value: null },
        // lookupAtMs is the lookups stage's; scoring and deciding never read it.
        value: { tx: r.tx, rows, at: i * width, late: r.late, lookupAtMs: r.tx.eventTimeMs },
        receivedAtMs: 0,
        replay: false,
      }
    })
    const scored = await run(this.#score, items)
    if (this.#failure)
      throw new FraudstreamError(
        ErrorCode.infer,
        `replay stopped: the models could not score a batch (${this.#failure.message})`,
        'internal',
        false,
        { cause: this.#failure },
      )
    const decided = await run(this.#decide, scored)
    return () => {
      const { sink, featureNames, featureContract, runId, onDecided } = this.#options
      for (const item of decided) {
        const origin = item.origin
        // No wall clock in a replayed row: decided when its record reached the topic, no latency.
        const decision = {
          ...item.value.decision,
          decided_at: new Date(origin.timestampMs).toISOString(),
          latency_ms: 0,
        }
        const value: Decided = { ...item.value, decision }
        this.#unacked++
        sink.add(
          origin.topic,
          origin.partition,
          origin.offset,
          scoreRowsOf(value, origin, { featureNames, featureContract, runId }),
          this.#onAck,
        )
        this.#written++
        onDecided?.(value, origin)
      }
    }
  }
}

/** A clock that never moves: nothing a stage writes through it may differ between two replays. */
const STILL: Clock = { wallMs: () => 0, nowMs: () => 0 }

const QUIET = { debug() {}, info() {}, warn() {}, error() {} }

/** One call of a stage's `process` over a batch, collecting what it emits, in order. */
async function run<In, Out>(stage: Stage<In, Out>, batch: readonly Item<In>[]): Promise<Item<Out>[]> {
  const out: Item<Out>[] = []
  const ctx: StageContext<Out> = {
    emit: (from, value) => out.push({ ...from, value }),
    deadLetter: (from) => {
      throw new FraudstreamError(
        ErrorCode.internal,
        `stage ${stage.name} dead-lettered ${from.origin.topic}[${from.origin.partition}]@${from.origin.offset} in a replay`,
        'internal',
      )
    },
    hold: () => () => {},
    clock: STILL,
    log: QUIET,
    metrics: { count() {} },
    partitions: () => [],
  }
  await stage.process(batch, ctx)
  return out
}
