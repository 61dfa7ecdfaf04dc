import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { cardFraudFeatures } from '../../topology/features.js'
import type { ModelManifest, ModelRegistry } from '../adapters/onnx/model-package.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { featureContractHash } from '../stages/features/feature-definition.js'
import { TransactionGenerator } from '../generator/transaction-generator.js'
import { PartitionState, partitionStateOptions } from '../offline/partition-state.js'
import type { Config } from '../config/schema.js'
import type { Transaction } from '../core/transaction-v1.js'
import { decodeLabel } from '../stages/decode/decode-transaction.js'
import { OfflineLookups } from '../stages/lookups/offline-lookups.js'
import { lookupPlanOf } from '../stages/lookups/lookup-plan.js'
import { promote } from '../models/registry.js'
import { evaluate, type Evaluation } from './evaluate.js'
import { logisticToOnnx, ONNX_CONTRIBUTIONS_NAME, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from './export-onnx.js'
import { predictLogistic, trainLogistic } from './logistic-regression.js'
import { defaultGbdtOptions, trainGbdt, type GbdtOptions } from './gbdt/gbdt.js'
import { gbdtToOnnx } from './gbdt/gbdt-onnx.js'
import { predictGbdt } from './gbdt/trees.js'

export interface TrainCommandOptions {
  readonly modelsDir: string
  readonly name: string
  readonly seed: number
  readonly transactions: number
  readonly fraudRate: number
  /** The model: the logistic baseline (default) or gradient-boosted trees. */
  readonly kind?: 'logistic' | 'gbdt'
  readonly epochs: number
  readonly positiveWeight: number
  /** Tree settings (kind gbdt); the positive weight is positiveWeight. */
  readonly gbdt?: Partial<GbdtOptions>
  readonly thresholds: { readonly review: number; readonly decline: number }
  /** The state settings the job runs with (lateness, dedupe, budget): training computes features as the job does. */
  readonly config: Pick<Config, 'decode' | 'dedupe' | 'windows'>
  /** Write this version (replacing its files if it exists) instead of the next one. */
  readonly version?: string
  /** Make the new version the registry's champion. */
  readonly promote: boolean
  readonly onProgress?: (phase: string, done: number, total: number) => void
}

export interface TrainResult {
  readonly ref: string
  readonly dir: string
  readonly trainRows: number
  readonly testRows: number
  readonly evaluation: Evaluation
  /** Largest |TypeScript − onnxruntime| score over the test set: the export check. */
  readonly onnxMaxAbsDiff: number
  readonly promoted: boolean
}

/**
 * Trains the card-fraud logistic model on generated transactions, with features computed by the stream's own
 * PartitionState, and writes a model package (model.onnx, manifest.json, metrics.json, card.md).
 * The split is by time: the first 70 % trains, the last 30 % is the holdout, as a backtest would be.
 */
/** Generated transactions' feature rows (the stream's own code path) and labels, in event-time order. */
export interface TrainingSet {
  readonly rows: Float32Array[]
  readonly labels: boolean[]
  readonly firstEventMs: number
  readonly lastEventMs: number
}

export function generateTrainingSet(
  options: Pick<TrainCommandOptions, 'seed' | 'fraudRate' | 'transactions' | 'config' | 'onProgress'>,
): TrainingSet {
  const features = cardFraudFeatures
  const generator = new TransactionGenerator({ seed: options.seed, fraudRate: options.fraudRate })
  const stateOptions = partitionStateOptions(options.config, features)
  const { allowedLatenessMs, maxRecordBytes } = stateOptions
  const state = new PartitionState(stateOptions)
  // Lookup columns are filled once every transaction and label is in: their windows end in the past, so the
  // complete tables give what the stream reads at scoring time.
  const lookups = new OfflineLookups(lookupPlanOf(features, allowedLatenessMs), allowedLatenessMs)
  const transactions: Transaction[] = []
  const lookupTimes: number[] = []
  const rows: Float32Array[] = []
  const labels: boolean[] = []
  let firstEventMs = Infinity
  let lastEventMs = -Infinity
  while (rows.length < options.transactions) {
    const record = generator.next()
    if (record.topic === 'labels') {
      const decoded = decodeLabel(record.value, { maxRecordBytes })
      if (decoded.kind === 'ok') lookups.addLabel(decoded.label)
      continue
    }
    if (record.intent.kind !== 'valid') continue
    const processed = state.process(record.value)
    if (processed.kind !== 'features') continue
    lookups.addTransaction(processed.tx, processed.late)
    transactions.push(processed.tx)
    lookupTimes.push(processed.lookupAtMs)
    rows.push(processed.row)
    labels.push(record.intent.isFraud)
    firstEventMs = Math.min(firstEventMs, processed.tx.eventTimeMs)
    lastEventMs = Math.max(lastEventMs, processed.tx.eventTimeMs)
    if (rows.length % 10_000 === 0) options.onProgress?.('features', rows.length, options.transactions)
  }
  rows.forEach((row, i) => lookups.fill(row, transactions[i]!, lookupTimes[i]!))
  return { rows, labels, firstEventMs, lastEventMs }
}

/**
 * The split by time every model of a training set shares: the oldest 60 % train, the next 10 % validate (early
 * stopping, trees only; the logistic model trains on both), the newest 30 % test.
 */
export function timeSplit(rows: number): { readonly validFrom: number; readonly testFrom: number } {
  return { validFrom: Math.floor(rows * 0.6), testFrom: Math.floor(rows * 0.7) }
}

/** The logistic baseline's settings, for `train` and the benchmarks that compare against it. */
export function logisticSettings(epochs: number, positiveWeight: number) {
  return { epochs, learningRate: 0.05, l2: 1e-4, positiveWeight }
}

export async function trainModel(options: TrainCommandOptions): Promise<TrainResult> {
  const features = cardFraudFeatures
  const { rows, labels, firstEventMs, lastEventMs } = generateTrainingSet(options)
  const { validFrom, testFrom: split } = timeSplit(rows.length)
  const testRows = rows.slice(split)
  const testLabels = labels.slice(split)
  // A given version is written in place (a reproducible package: `npm run train:default`), otherwise the next one.
  const version = options.version ?? nextVersion(options.modelsDir, options.name)
  const names = features.map((f) => f.name)
  const hash = featureContractHash(features)
  const docString = `fraudstream ${options.name}@${version}, feature contract ${hash}`
  let fitted: { predict: (row: Float32Array) => number; onnx: Uint8Array; trainRows: number; card: string }
  if (options.kind === 'gbdt') {
    const result = trainGbdt(
      { rows: rows.slice(0, validFrom), labels: labels.slice(0, validFrom) },
      names,
      { ...defaultGbdtOptions, scalePosWeight: options.positiveWeight, seed: options.seed, ...options.gbdt },
      { rows: rows.slice(validFrom, split), labels: labels.slice(validFrom, split) },
      (p) => options.onProgress?.('training', p.round, p.rounds),
    )
    const model = result.model
    fitted = {
      predict: (row) => predictGbdt(model, row),
      onnx: gbdtToOnnx(model, { docString }),
      trainRows: validFrom,
      card: `Gradient-boosted trees (${model.trees.length} trees, the best of ${result.history.length} rounds by validation AUC-PR ${result.validAucPr?.toFixed(4)}), trained by \`fraudstream train --kind gbdt\`.`,
    }
  } else {
    options.onProgress?.('training', 0, options.epochs)
    const model = trainLogistic(
      rows.slice(0, split),
      labels.slice(0, split),
      logisticSettings(options.epochs, options.positiveWeight),
    )
    options.onProgress?.('training', options.epochs, options.epochs)
    fitted = {
      predict: (row) => predictLogistic(model, row),
      onnx: logisticToOnnx(model, { featureNames: names, docString }),
      trainRows: split,
      card: `Logistic regression on standardised signed-log card features (sign(x)·ln(1 + |x|)), trained by \`fraudstream train\`.\n\n## Weights (on standardised signed-log features)\n| feature | weight |\n| --- | --- |\n${names.map((n, i) => `| ${n} | ${model.weights[i]!.toFixed(4)} |`).join('\n')}`,
    }
  }
  const tsScores = testRows.map(fitted.predict)
  const evaluation = evaluate(tsScores, testLabels, options.thresholds)

  const dir = join(options.modelsDir, options.name, version)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'model.onnx'), fitted.onnx)

  const onnxMaxAbsDiff = await compareWithOnnx(join(dir, 'model.onnx'), testRows, tsScores)
  if (!(onnxMaxAbsDiff <= 1e-4)) {
    throw new FraudstreamError(
      ErrorCode.internal,
      `the exported ONNX model scores differently from the trained one (max |diff| = ${onnxMaxAbsDiff}); the package in ${dir} is not usable`,
      'internal',
    )
  }
  // SOURCE_DATE_EPOCH (seconds), the reproducible-builds convention, makes the package the same bytes every time.
  const epoch = process.env['SOURCE_DATE_EPOCH']
  const createdAt = new Date(epoch && /^\d+$/.test(epoch) ? Number(epoch) * 1000 : Date.now()).toISOString()
  const manifest: ModelManifest = {
    name: options.name,
    version,
    created_at: createdAt,
    parent_version: previousVersion(options.modelsDir, options.name, version),
    kind: options.kind === 'gbdt' ? 'gradient_boosted_trees' : 'logistic_regression',
    feature_contract: { hash, names, types: names.map(() => 'float32') },
    input: { name: ONNX_INPUT_NAME, shape: ['N', names.length] },
    output: { name: ONNX_OUTPUT_NAME, shape: ['N'] },
    thresholds: options.thresholds,
    explanation: {
      output: ONNX_CONTRIBUTIONS_NAME,
      method: options.kind === 'gbdt' ? 'path' : 'linear',
      space: 'margin',
    },
    training: {
      data: 'fraudstream generator',
      seed: options.seed,
      fraud_rate: options.fraudRate,
      transactions: rows.length,
      train_rows: fitted.trainRows,
      validation_rows: options.kind === 'gbdt' ? split - validFrom : 0,
      test_rows: testRows.length,
      event_time_from: new Date(firstEventMs).toISOString(),
      event_time_to: new Date(lastEventMs).toISOString(),
      ...(options.kind === 'gbdt' ? { gbdt: { ...defaultGbdtOptions, ...options.gbdt } } : { epochs: options.epochs }),
      positive_weight: options.positiveWeight,
    },
    metrics: { ...evaluation, onnx_max_abs_diff: onnxMaxAbsDiff },
  }
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  writeFileSync(
    join(dir, 'metrics.json'),
    `${JSON.stringify({ holdout: evaluation, onnx_max_abs_diff: onnxMaxAbsDiff }, null, 2)}\n`,
  )
  writeFileSync(join(dir, 'card.md'), modelCard(manifest, evaluation, fitted.card))

  const registryPath = join(options.modelsDir, 'registry.json')
  const ref = `${options.name}@${version}`
  const promoted = options.promote || !existsSync(registryPath)
  // A first model starts the registry; a promotion keeps its shadows and the champion it replaces (for rollback).
  if (!existsSync(registryPath)) {
    const registry: ModelRegistry = { champion: ref, shadows: [] }
    writeFileSync(registryPath, `${JSON.stringify(registry, null, 2)}\n`)
  } else if (promoted) promote(options.modelsDir, ref, hash)
  return {
    ref: `${options.name}@${version}`,
    dir,
    trainRows: fitted.trainRows,
    testRows: testRows.length,
    evaluation,
    onnxMaxAbsDiff,
    promoted,
  }
}

async function compareWithOnnx(
  path: string,
  rows: readonly Float32Array[],
  expected: readonly number[],
): Promise<number> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 })
  const width = rows[0]?.length ?? 0
  const flat = new Float32Array(rows.length * width)
  rows.forEach((row, i) => flat.set(row, i * width))
  const output = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', flat, [rows.length, width]) })
  const scores = output[ONNX_OUTPUT_NAME]!.data as Float32Array
  let maxDiff = 0
  for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(scores[i]! - expected[i]!))
  await session.release()
  return maxDiff
}

function versions(modelsDir: string, name: string): number[] {
  const dir = join(modelsDir, name)
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((v) => /^\d+$/.test(v))
    .map(Number)
    .sort((a, b) => a - b)
}

function nextVersion(modelsDir: string, name: string): string {
  const existing = versions(modelsDir, name)
  return String((existing[existing.length - 1] ?? 0) + 1)
}

function previousVersion(modelsDir: string, name: string, version: string): string | null {
  const earlier = versions(modelsDir, name).filter((v) => v < Number(version))
  return earlier.length ? String(earlier[earlier.length - 1]) : null
}

function modelCard(manifest: ModelManifest, e: Evaluation, about: string): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`
  return `# ${manifest.name}@${manifest.version}

${about.split('\n## ')[0]}

- Feature contract: \`${manifest.feature_contract.hash}\` (${manifest.feature_contract.names.length} features, see \`topology/features.ts\`)
- Training data: generated transactions, seed ${String(manifest.training.seed)}, ${String(manifest.training.transactions)} transactions
  (${String(manifest.training.event_time_from)} to ${String(manifest.training.event_time_to)}), split by time:
  ${String(manifest.training.train_rows)} train, ${String(manifest.training.validation_rows)} validation, ${String(manifest.training.test_rows)} test (the newest).
- Thresholds: review ≥ ${manifest.thresholds.review}, decline ≥ ${manifest.thresholds.decline}

## Holdout metrics (${e.rows} transactions, ${e.positives} fraud)
| metric | value |
| --- | --- |
| AUC-PR (average precision) | ${e.auc_pr.toFixed(4)} |
| ROC AUC | ${e.auc_roc.toFixed(4)} |
| decline rate / precision / recall | ${pct(e.decline_rate)} / ${pct(e.precision_at_decline)} / ${pct(e.recall_at_decline)} |
| review-or-decline recall / precision | ${pct(e.recall_at_review)} / ${pct(e.precision_at_review)} |

${about.includes('\n## ') ? `## ${about.split('\n## ').slice(1).join('\n## ')}\n` : ''}
## Limits
Trained on synthetic data: it knows the generator's three fraud patterns and nothing else. Replace it with a model
trained on your labelled scores before production use.
`
}
