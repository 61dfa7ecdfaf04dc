import type { ClickHouseClient } from '../adapters/clickhouse/client.js'
import { contractsInWindow, missingFeatureColumns, readTrainingRows } from '../adapters/clickhouse/training-rows.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { featureContractHash, type FeatureDefinition } from '../stages/features/feature-definition.js'
import { emptyTally, targetAtCutoff, TrainingSetBuilder, type TrainingSet } from './training-set.js'

const DAY_MS = 24 * 60 * 60 * 1000

export interface ClickhouseTrainingSetOptions {
  readonly client: ClickHouseClient
  readonly features: readonly FeatureDefinition[]
  /** 'live' by default: the job's own scores. */
  readonly runId: string
  /** [fromMs, toMs) of event time. */
  readonly fromMs: number
  readonly toMs: number
  readonly labelCutoffMs: number
  readonly labelMaturityDays: number
  readonly onProgress?: (phase: string, done: number, total: number) => void
}

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * Point-in-time training data: the feature rows the job logged in `scores` when it scored each transaction (so no
 * feature is recomputed with hindsight), labelled by what was known at the label cutoff (targetAtCutoff). Only rows on
 * the feature set's own contract can train a model of it; a window that holds rows of another contract is refused,
 * naming where this contract's rows start, rather than silently training on part of it.
 */
export async function clickhouseTrainingSet(options: ClickhouseTrainingSetOptions): Promise<TrainingSet> {
  const { client, features } = options
  const contract = featureContractHash(features)
  const names = features.map((f) => f.name)
  const window = `${iso(options.fromMs)} to ${iso(options.toMs)}`
  const contracts = await contractsInWindow(client, options)
  const ours = contracts.find((c) => c.feature_contract === contract)
  const others = contracts.filter((c) => c.feature_contract !== contract)
  if (contracts.length === 0)
    throw new FraudstreamError(
      ErrorCode.usage,
      `no scores of run "${options.runId}" with event time in ${window}: widen --from/--to, or run the job first`,
      'input',
    )
  if (others.length > 0) {
    const listed = others
      .map((c) => `${c.feature_contract} (${c.rows} rows, ${iso(c.first_event_ms)} to ${iso(c.last_event_ms)})`)
      .join(', ')
    const hint = ours
      ? `this feature set's rows (${ours.rows}) run from ${iso(ours.first_event_ms)} to ${iso(ours.last_event_ms)}: narrow --from/--to to them`
      : 'no row of the window is on this contract: train on files (--transactions, --labels) with this feature set, or replay history through the job with it and train on that run (--run-id)'
    throw new FraudstreamError(
      ErrorCode.modelContract,
      `scores in ${window} were computed under feature contract(s) ${listed}, not this feature set's ${contract} (${names.length} features); features of another contract mean other things, so they cannot train this model. ${hint}`,
      'input',
    )
  }
  const missing = await missingFeatureColumns(client, names)
  if (missing.length > 0)
    throw new FraudstreamError(
      ErrorCode.modelContract,
      `scores has no column for feature(s) ${missing.join(', ')} of contract ${contract}: the job has not run with this feature set; start it once (it adds the columns) or train from files`,
      'input',
    )
  const builder = new TrainingSetBuilder()
  const tally = emptyTally()
  const cutoff = { labelCutoffMs: options.labelCutoffMs, maturityMs: options.labelMaturityDays * DAY_MS }
  // Read only the days that hold rows: a generous --from costs nothing.
  const fromMs = Math.max(options.fromMs, ours!.first_event_ms)
  const toMs = Math.min(options.toMs, ours!.last_event_ms + 1)
  await readTrainingRows(
    client,
    {
      runId: options.runId,
      fromMs,
      toMs,
      featureContract: contract,
      featureNames: names,
      labelCutoffMs: options.labelCutoffMs,
    },
    (row) => {
      const target = targetAtCutoff(row.isFraud, row.eventTimeMs, cutoff, tally)
      if (target !== undefined)
        builder.add(row.features, target, { amount: row.amount, card_id: row.cardId, eventTimeMs: row.eventTimeMs })
    },
    (doneMs, totalMs) =>
      options.onProgress?.('reading scores (days)', Math.ceil(doneMs / DAY_MS), Math.ceil(totalMs / DAY_MS)),
  )
  return builder.finish({
    kind: 'clickhouse',
    run_id: options.runId,
    from: iso(options.fromMs),
    to: iso(options.toMs),
    label_cutoff: iso(options.labelCutoffMs),
    label_maturity_days: options.labelMaturityDays,
    labels_used: tally,
  })
}
