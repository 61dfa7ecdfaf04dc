import type { Command } from 'commander'
import { createClickhouseClient } from '../adapters/clickhouse/client.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { FeatureDefinition } from '../stages/features/feature-definition.js'
import { clickhouseTrainingSet } from '../training/clickhouse-training-set.js'
import { defaultEvaluationSettings, rankingLines, thresholdLines } from '../training/evaluation-report.js'
import { fileTrainingSet } from '../training/file-training-set.js'
import { defaultGbdtOptions } from '../training/gbdt/gbdt.js'
import { describeSource } from '../training/model-card.js'
import { trainModel, type TrainResult } from '../training/train.js'
import type { TrainingSet } from '../training/training-set.js'
import {
  formatInt,
  loadCliConfig,
  parseInteger,
  parseNumber,
  parseTimeOption,
  renderTable,
  runCommand,
  withCommonOptions,
  type CommonOptions,
} from './common.js'
import { assertReadable, withTopicLayoutOptions, type TopicLayoutOptions } from './feature-input.js'
import { loadFeatures, withFeaturesOption } from './feature-module.js'
import { Progress } from './progress.js'

interface TrainOptions extends CommonOptions, TopicLayoutOptions {
  name: string
  seed: number
  /** A count of generated transactions, or a file of them. */
  transactions: number | string
  labels?: string
  fromClickhouse?: boolean
  from?: number
  to?: number
  runId: string
  labelCutoff?: number
  maturityDays?: number
  reviewCost: number
  declineCost: number
  precisionAt: number[]
  cardK: number
  keepThresholds?: boolean
  features?: string
  fraudRate: number
  kind: 'logistic' | 'gbdt'
  epochs: number
  positiveWeight: number
  rounds: number
  learningRate: number
  maxDepth: number
  maxLeaves: number
  minChildWeight: number
  subsample: number
  colsample: number
  earlyStopping: number
  promote?: boolean
  modelVersion?: number
  modelsDir?: string
}

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description(
      'train the card-fraud model (logistic baseline or gradient-boosted trees) on ClickHouse scores, files or generated transactions, evaluate it, choose its thresholds by cost, and export it to ONNX',
    )
    .option('--kind <kind>', 'logistic | gbdt', parseKind, 'logistic')
    .option('--name <name>', 'model name under models/', 'card-fraud-lr')
    .option('--seed <n>', 'seed of the generated data and of the trees', parseInteger('--seed', 0), 1)
    .option(
      '--transactions <n|file>',
      'a number: generate that many transactions; a path: Transaction v1 NDJSON (.ndjson or .ndjson.gz, or a kcat -C -J dump), features computed as `fraudstream features` does',
      parseTransactions,
      150_000,
    )
    .option(
      '--labels <file>',
      'with --transactions <file>: Label v1 NDJSON (.ndjson or .ndjson.gz); they feed the label-based features and label the rows at --label-cutoff',
    )
    .option(
      '--from-clickhouse',
      'train on the feature rows the job logged in ClickHouse `scores` (run --run-id), labelled from `labels` at --label-cutoff',
    )
    .option(
      '--from <time>',
      '--from-clickhouse: first event time, ISO-8601 (UTC) or epoch ms',
      parseTimeOption('--from'),
    )
    .option('--to <time>', '--from-clickhouse: end of event time, exclusive (default: now)', parseTimeOption('--to'))
    .option('--run-id <id>', "--from-clickhouse: the scores' run: live, or a replay's --run-id", 'live')
    .option(
      '--label-cutoff <time>',
      'use the latest label reported at or before this time (default: now); later labels are ignored',
      parseTimeOption('--label-cutoff'),
    )
    .option(
      '--maturity-days <days>',
      'an unlabelled transaction this many days older than the cutoff is legitimate, a younger one is left out (default analytics.labelMaturityDays, 30)',
      parseInteger('--maturity-days', 0),
    )
    .option('--fraud-rate <p>', 'fraud share of generated data', parseNumber('--fraud-rate', 0.001, 0.5), 0.01)
    .option('--epochs <n>', 'logistic: full-batch Adam epochs', parseInteger('--epochs', 1), 300)
    .option('--rounds <n>', 'gbdt: boosting rounds at most', parseInteger('--rounds', 1), defaultGbdtOptions.rounds)
    .option(
      '--learning-rate <r>',
      'gbdt: shrinkage',
      parseNumber('--learning-rate', 0.001, 1),
      defaultGbdtOptions.learningRate,
    )
    .option('--max-depth <n>', 'gbdt: tree depth', parseInteger('--max-depth', 1), defaultGbdtOptions.maxDepth)
    .option(
      '--max-leaves <n>',
      'gbdt: leaves a tree (0: 2^max-depth)',
      parseInteger('--max-leaves', 0),
      defaultGbdtOptions.maxLeaves,
    )
    .option(
      '--min-child-weight <w>',
      'gbdt: least hessian in a leaf',
      parseNumber('--min-child-weight', 0),
      defaultGbdtOptions.minChildWeight,
    )
    .option('--subsample <p>', 'gbdt: rows a tree', parseNumber('--subsample', 0.01, 1), defaultGbdtOptions.subsample)
    .option(
      '--colsample <p>',
      'gbdt: features a tree',
      parseNumber('--colsample', 0.01, 1),
      defaultGbdtOptions.colsample,
    )
    .option(
      '--early-stopping <n>',
      'gbdt: rounds without a better validation AUC-PR before stopping (0: never)',
      parseInteger('--early-stopping', 0),
      defaultGbdtOptions.earlyStoppingRounds,
    )
    .option('--positive-weight <w>', 'weight of a fraud example', parseNumber('--positive-weight', 1), 5)
    .option(
      '--review-cost <x>',
      'cost of a review, in amount units, for threshold tuning (a missed fraud costs its amount)',
      parseNumber('--review-cost', 0),
      defaultEvaluationSettings.reviewCost,
    )
    .option(
      '--decline-cost <x>',
      'cost of declining a legitimate transaction, for threshold tuning',
      parseNumber('--decline-cost', 0),
      defaultEvaluationSettings.declineCost,
    )
    .option(
      '--keep-thresholds',
      'write the configured thresholds (thresholds.review/decline) instead of the cost-tuned ones',
    )
    .option('--precision-at <k,…>', 'the k of precision@k on the test split', parseKs, [
      ...defaultEvaluationSettings.precisionAtK,
    ])
    .option(
      '--card-k <n>',
      'cards checked a day, for card precision@k per day',
      parseInteger('--card-k', 1),
      defaultEvaluationSettings.cardK,
    )
    .option('--promote', 'make the new version the champion in models/registry.json')
    .option(
      '--model-version <n>',
      'write this version, replacing its files if it exists (default: the next one)',
      parseInteger('--model-version', 1),
    )
    .option('--models-dir <dir>', 'model registry directory (default: model.dir from config, ./models)')
  withCommonOptions(withFeaturesOption(withTopicLayoutOptions(command)), { logLevel: 'warn' })
    .addHelpText(
      'after',
      `
Data (one of):
  generated      --transactions <n> (default): the generator's transactions and its true labels
  files          --transactions <tx.ndjson[.gz]> [--labels <labels.ndjson[.gz]>]: the stream's feature code on files
  ClickHouse     --from-clickhouse --from <time> [--to <time>]: the features logged at scoring time in \`scores\`
Files and ClickHouse label each transaction with its latest label reported by --label-cutoff; one with none counts
as legitimate if older than --maturity-days before the cutoff, and is left out otherwise.
Split by event time: oldest 60 % train, next 10 % validation, newest 30 % test. The package's thresholds are the
(review, decline) pair of least cost on the validation split (a missed fraud costs its amount, a review
--review-cost, a false decline --decline-cost), unless --keep-thresholds.
  fraudstream train --kind gbdt --from-clickhouse --from 2026-01-05 --to 2026-03-01 --label-cutoff 2026-04-01
  fraudstream train --kind gbdt --transactions tx.ndjson.gz --labels labels.ndjson.gz --json`,
    )
    .action(async (opts: TrainOptions) => {
      await runCommand(opts, async () => {
        const overrides = {
          ...(opts.modelsDir ? { 'model.dir': opts.modelsDir } : {}),
          ...(opts.features ? { 'features.module': opts.features } : {}),
          ...(opts.maturityDays !== undefined ? { 'analytics.labelMaturityDays': opts.maturityDays } : {}),
        }
        const { config } = loadCliConfig(opts, overrides, { logLevel: 'warn' })
        const features = await loadFeatures(config)
        const progress = new Progress()
        const started = performance.now()
        let phaseStarted = { phase: '', ms: started }
        const onProgress = opts.json
          ? undefined
          : (phase: string, done: number, total?: number) => {
              const now = performance.now()
              if (phase !== phaseStarted.phase) phaseStarted = { phase, ms: now }
              // A file's passes have no known total: they count lines.
              if (total === undefined) {
                const line = `  ${phase}: ${formatInt(done)} lines`
                progress.update([line], line)
                return
              }
              const etaS = done > 0 && total > done ? (((now - phaseStarted.ms) / done) * (total - done)) / 1000 : 0
              const line = `  ${phase} ${formatInt(done)}/${formatInt(total)}${etaS > 0 ? `, ETA ${etaS.toFixed(0)} s` : ''}`
              progress.update([line], line)
            }
        const data = await trainingData(opts, config, features, onProgress)
        const result = await trainModel({
          modelsDir: config.model.dir,
          name: opts.name,
          seed: opts.seed,
          transactions: typeof opts.transactions === 'number' ? opts.transactions : 0,
          fraudRate: opts.fraudRate,
          ...(data ? { data: data.set } : {}),
          features,
          kind: opts.kind,
          epochs: opts.epochs,
          positiveWeight: opts.positiveWeight,
          gbdt: {
            rounds: opts.rounds,
            learningRate: opts.learningRate,
            maxDepth: opts.maxDepth,
            maxLeaves: opts.maxLeaves,
            minChildWeight: opts.minChildWeight,
            subsample: opts.subsample,
            colsample: opts.colsample,
            earlyStoppingRounds: opts.earlyStopping,
          },
          thresholds: config.thresholds,
          evaluation: {
            reviewCost: opts.reviewCost,
            declineCost: opts.declineCost,
            precisionAtK: opts.precisionAt,
            cardK: opts.cardK,
            tuneThresholds: !opts.keepThresholds,
          },
          config,
          promote: opts.promote ?? false,
          ...(opts.modelVersion !== undefined ? { version: String(opts.modelVersion) } : {}),
          ...(onProgress ? { onProgress } : {}),
        })
        progress.done()
        const elapsed_s = Math.round(performance.now() - started) / 1000
        if (opts.json)
          process.stdout.write(`${JSON.stringify({ ok: true, ...result, ...(data?.notes ?? {}), elapsed_s })}\n`)
        else process.stdout.write(renderResult(result, data?.lines ?? [], elapsed_s))
      })
    })
}

/** The rows to train on from files or ClickHouse, with what to say about them; undefined: generate them. */
async function trainingData(
  opts: TrainOptions,
  config: Config,
  features: readonly FeatureDefinition[],
  onProgress: ((phase: string, done: number, total?: number) => void) | undefined,
): Promise<{ set: TrainingSet; lines: string[]; notes?: Record<string, unknown> } | undefined> {
  const fromFile = typeof opts.transactions === 'string'
  const usage = (message: string) => new FraudstreamError(ErrorCode.usage, message, 'input')
  if (opts.fromClickhouse && fromFile)
    throw usage('--from-clickhouse and --transactions <file> are two sources: give one of them')
  if (opts.labels && !fromFile) throw usage('--labels goes with --transactions <file>: give the transactions file too')
  if (!opts.fromClickhouse && (opts.from !== undefined || opts.to !== undefined))
    throw usage('--from and --to choose the window of --from-clickhouse: add --from-clickhouse')
  if (opts.fromClickhouse && opts.from === undefined)
    throw usage('--from-clickhouse needs --from <time>, the first event time to train on')
  const labelCutoffMs = opts.labelCutoff ?? Date.now()
  const labelMaturityDays = config.analytics.labelMaturityDays
  if (opts.fromClickhouse) {
    const toMs = opts.to ?? Date.now()
    if (!(opts.from! < toMs)) throw usage('--from must be before --to')
    const client = await createClickhouseClient(config)
    try {
      const set = await clickhouseTrainingSet({
        client,
        features,
        runId: opts.runId,
        fromMs: opts.from!,
        toMs,
        labelCutoffMs,
        labelMaturityDays,
        ...(onProgress ? { onProgress } : {}),
      })
      return { set, lines: [] }
    } finally {
      await client.close()
    }
  }
  if (!fromFile) return undefined
  const transactionsPath = opts.transactions as string
  await assertReadable('--transactions', transactionsPath)
  if (opts.labels) await assertReadable('--labels', opts.labels)
  const { set, counts } = await fileTrainingSet({
    transactionsPath,
    ...(opts.labels ? { labelsPath: opts.labels } : {}),
    features,
    config,
    partitions: opts.partitions,
    labelPartitions: opts.labelPartitions,
    partitioner: opts.partitioner,
    labelCutoffMs,
    labelMaturityDays,
    ...(onProgress ? { onProgress: (phase: string, lines: number) => onProgress(`${phase} pass`, lines) } : {}),
  })
  const lines = [
    `read ${formatInt(counts.lines)} transaction lines: ${formatInt(counts.rows)} feature rows, ${formatInt(counts.invalid)} invalid, ${formatInt(counts.duplicates)} duplicate, ${formatInt(counts.late)} late (scored, not in the windows); ${formatInt(counts.invalid_labels)} invalid label lines`,
  ]
  return { set, lines, notes: { input: counts } }
}

function renderResult(result: TrainResult, dataLines: readonly string[], elapsedS: number): string {
  const { report } = result
  const c = report.thresholds.confusion
  const split = report.split
  const labelled =
    'labels_used' in result.source
      ? (() => {
          const t = result.source.labels_used
          return [
            `labels at ${result.source.label_cutoff}: ${formatInt(t.fraud)} fraud, ${formatInt(t.labelled_legitimate)} labelled legitimate, ${formatInt(t.unlabelled_legitimate)} unlabelled taken as legitimate (older than ${result.source.label_maturity_days} days), ${formatInt(t.unlabelled_dropped)} unlabelled left out (too recent)`,
          ]
        })()
      : []
  return `${[
    `trained ${result.ref} → ${result.dir} in ${elapsedS}s`,
    `data: ${describeSource(result.source)}`,
    ...dataLines,
    ...labelled,
    `split by event time: ${formatInt(split.train.rows)} train, ${formatInt(split.validation.rows)} validation, ${formatInt(split.test.rows)} test (${split.test.from} to ${split.test.to}, ${formatInt(split.test.fraud)} fraud)`,
    '',
    renderTable(['test metric', 'value'], [...rankingLines(report), ...thresholdLines(report)]),
    '',
    renderTable(
      ['test: actual', 'approve', 'review', 'decline'],
      [
        ['fraud', ...[c.fraud.approve, c.fraud.review, c.fraud.decline].map(formatInt)],
        ['legitimate', ...[c.legitimate.approve, c.legitimate.review, c.legitimate.decline].map(formatInt)],
      ],
    ),
    '',
    `thresholds written to the manifest: review ≥ ${report.thresholds.chosen.review}, decline ≥ ${report.thresholds.chosen.decline} (${report.thresholds.method})`,
    `ONNX matches TypeScript within ${result.onnxMaxAbsDiff.toExponential(1)}${result.promoted ? '; promoted to champion' : '; not promoted (use --promote)'}`,
  ].join('\n')}\n`
}

/** --transactions: a whole number generates that many; anything else is a file of transactions. */
function parseTransactions(value: string): number | string {
  if (!/^\d+$/.test(value)) return value
  return parseInteger('--transactions', 1_000)(value)
}

/** --precision-at: a comma-separated list of positive whole numbers. */
function parseKs(value: string): number[] {
  return value.split(',').map((k) => parseInteger('--precision-at', 1)(k.trim()))
}

function parseKind(value: string): 'logistic' | 'gbdt' {
  if (value === 'logistic' || value === 'gbdt') return value
  throw new FraudstreamError(ErrorCode.usage, `--kind must be logistic or gbdt, got "${value}"`, 'input')
}
