import { Piscina } from 'piscina'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../../core/errors.js'
import type { ModelScores, ScoredBatch, Scorer } from '../../core/ports.js'
import type { ModelRef } from '../../core/records.js'
import { servedModels, type Lineup } from '../../models/lineup.js'
import type { InferResult, InferTask, LoadTask, ModelTask } from './infer-worker.js'

const WORKER_URL = new URL('./infer-worker.ts', import.meta.url)

export interface OnnxScorerOptions {
  readonly threads: number
  /** Top feature contributions kept per row for the models that decide (when their graph explains). */
  readonly explainTopK?: number
}

/**
 * Scores feature batches with onnxruntime-node on a Piscina pool: every model of the lineup on one worker round trip,
 * the batch a Float32Array moved to the worker (transferred, not copied). `session.run` is CPU-bound, so it never runs
 * on the event loop. `use` swaps the lineup between batches, after every worker has loaded its sessions.
 */
export class OnnxScorer implements Scorer {
  readonly #pool: Piscina
  readonly #threads: number
  readonly #explainTopK: number
  #lineup: Lineup
  #tasks: readonly ModelTask[]
  /** Lineup loads, one at a time: a second promotion waits for the first to be in place. */
  #loading: Promise<unknown>
  readonly #inFlight = new Set<Promise<unknown>>()
  readonly featureNames: readonly string[]

  constructor(lineup: Lineup, options: OnnxScorerOptions) {
    this.#threads = options.threads
    this.#explainTopK = options.explainTopK ?? 3
    this.#lineup = lineup
    this.#tasks = this.#tasksOf(lineup)
    this.featureNames = lineup.champion.pkg.manifest.feature_contract.names
    this.#pool = new Piscina({
      filename: WORKER_URL.href,
      minThreads: options.threads,
      maxThreads: options.threads,
      // No maxQueue: the job bounds records in flight (runtime.maxInFlight), which bounds the batches queued here.
      // The worker is TypeScript: workers do not inherit tsx's loader from a programmatic register().
      execArgv: ['--import', 'tsx'],
      // Model workers need no credentials; an explicit env keeps secrets out of them.
      env: {},
    })
    // A worker terminated while onnxruntime's binding registers, or while it creates a session, aborts the whole
    // process ("terminate called after throwing an instance of 'Napi::Error'"): close() waits for every load.
    this.ready = this.#load(this.#tasks, [])
    // Sequencing only: the caller hears of a failed first load through `ready`.
    this.#loading = this.ready.catch(() => {})
  }

  /** Resolves once every worker holds the first lineup's sessions; rejects if one cannot be created. */
  readonly ready: Promise<void>

  get model(): ModelRef {
    return this.#lineup.champion.ref
  }

  get lineup(): Lineup {
    return this.#lineup
  }

  get queueFull(): boolean {
    return this.#pool.needsDrain
  }

  /**
   * Makes `lineup` the one batches are scored with, once every worker has created its sessions: batches sent before
   * that still use the old one, so each batch is scored by exactly one champion. Rejects (keeping the old lineup)
   * if a session cannot be created.
   */
  use(lineup: Lineup): Promise<void> {
    const switched = this.#loading.then(async () => {
      const tasks = this.#tasksOf(lineup)
      await this.#load(tasks, this.#tasks, lineup)
      this.#lineup = lineup
      this.#tasks = tasks
    })
    // Sequencing only: the caller hears of a failed load through the promise returned.
    this.#loading = switched.catch(() => {})
    return switched
  }

  async score(rows: Float32Array, rowCount: number): Promise<ScoredBatch> {
    const lineup = this.#lineup
    const models = this.#tasks
    const task: InferTask = { models, rows, rowCount, width: this.featureNames.length }
    const running = this.#pool.run(task, { transferList: [rows.buffer as ArrayBuffer] }) as Promise<InferResult>
    this.#inFlight.add(running)
    try {
      const result = await running
      const served = servedModels(lineup)
      return {
        models: served.map((model, i): ModelScores => {
          const explained = result.explanations[i]
          return {
            model: model.ref,
            role: model.role,
            thresholds: model.thresholds,
            scores: result.scores[i]!,
            ...(explained ? { explanation: { k: this.#explainTopK, ...explained } } : {}),
          }
        }),
        ...(lineup.challenger ? { challengerPercent: lineup.challenger.percent } : {}),
      }
    } catch (err) {
      throw new FraudstreamError(
        ErrorCode.infer,
        `inference with ${lineup.champion.ref.name}@${lineup.champion.ref.version} failed: ${errorMessageOf(err)}`,
        'internal',
        false,
        { cause: err },
      )
    } finally {
      this.#inFlight.delete(running)
    }
  }

  async close(): Promise<void> {
    await this.#loading
    await Promise.allSettled([...this.#inFlight])
    await this.#pool.destroy()
  }

  #tasksOf(lineup: Lineup): ModelTask[] {
    return servedModels(lineup).map((model) => {
      const { manifest, onnxPath } = model.pkg
      const explains = model.role !== 'shadow' && manifest.explanation !== undefined && this.#explainTopK > 0
      return {
        path: onnxPath,
        input: manifest.input.name,
        output: manifest.output.name,
        ...(explains ? { explain: { output: manifest.explanation!.output, k: this.#explainTopK } } : {}),
      }
    })
  }

  /** `keep`: the models batches in flight or queued were sent with; their sessions go at the next switch. */
  async #load(models: readonly ModelTask[], keep: readonly ModelTask[], lineup = this.#lineup): Promise<void> {
    const load: LoadTask = {
      load: models,
      keep: keep.map((m) => m.path),
      width: this.featureNames.length,
      barrier: new SharedArrayBuffer(4),
      workers: this.#threads,
      timeoutMs: 60_000,
    }
    const results = await Promise.allSettled(Array.from({ length: this.#threads }, () => this.#pool.run(load)))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed)
      throw new FraudstreamError(
        ErrorCode.modelLoad,
        `loading ${servedModels(lineup)
          .map((m) => `${m.ref.name}@${m.ref.version}`)
          .join(', ')} failed: ${errorMessageOf(failed.reason)}`,
        'input',
        false,
        { cause: failed.reason },
      )
  }
}
