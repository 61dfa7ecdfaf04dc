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
import { evaluate, type Evaluation } from './evaluate.js'
import { logisticToOnnx, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from './export-onnx.js'
import { predictLogistic, trainLogistic } from './logistic-regression.js'

export interface TrainCommandOptions {
  readonly modelsDir: string
  readonly name: string
  readonly seed: number
  readonly transactions: number
  readonly fraudRate: number
  readonly epochs: number
  readonly positiveWeight: number
  readonly thresholds: { readonly review: number; readonly decline: number }
  /** The state settings the job runs with (lateness, dedupe, budget): training computes features as the job does. */
  readonly config: Pick<Config, 'decode' | 'dedupe' | 'windows'>
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
export async function trainModel(options: TrainCommandOptions): Promise<TrainResult> {
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
  const split = Math.floor(rows.length * 0.7)
  options.onProgress?.('training', 0, options.epochs)
  const model = trainLogistic(rows.slice(0, split), labels.slice(0, split), {
    epochs: options.epochs,
    learningRate: 0.05,
    l2: 1e-4,
    positiveWeight: options.positiveWeight,
  })
  options.onProgress?.('training', options.epochs, options.epochs)
  const testRows = rows.slice(split)
  const testLabels = labels.slice(split)
  const tsScores = testRows.map((row) => predictLogistic(model, row))
  const evaluation = evaluate(tsScores, testLabels, options.thresholds)

  const version = nextVersion(options.modelsDir, options.name)
  const dir = join(options.modelsDir, options.name, version)
  mkdirSync(dir, { recursive: true })
  const names = features.map((f) => f.name)
  const hash = featureContractHash(features)
  const onnxBytes = logisticToOnnx(model, {
    featureNames: names,
    docString: `fraudstream ${options.name}@${version}, feature contract ${hash}`,
  })
  writeFileSync(join(dir, 'model.onnx'), onnxBytes)

  const onnxMaxAbsDiff = await compareWithOnnx(join(dir, 'model.onnx'), testRows, tsScores)
  if (!(onnxMaxAbsDiff <= 1e-4)) {
    throw new FraudstreamError(
      ErrorCode.internal,
      `the exported ONNX model scores differently from the trained one (max |diff| = ${onnxMaxAbsDiff}); the package in ${dir} is not usable`,
      'internal',
    )
  }
  const createdAt = new Date().toISOString()
  const manifest: ModelManifest = {
    name: options.name,
    version,
    created_at: createdAt,
    parent_version: previousVersion(options.modelsDir, options.name, version),
    kind: 'logistic_regression',
    feature_contract: { hash, names, types: names.map(() => 'float32') },
    input: { name: ONNX_INPUT_NAME, shape: ['N', names.length] },
    output: { name: ONNX_OUTPUT_NAME, shape: ['N'] },
    thresholds: options.thresholds,
    training: {
      data: 'fraudstream generator',
      seed: options.seed,
      fraud_rate: options.fraudRate,
      transactions: rows.length,
      train_rows: split,
      test_rows: testRows.length,
      event_time_from: new Date(firstEventMs).toISOString(),
      event_time_to: new Date(lastEventMs).toISOString(),
      epochs: options.epochs,
      positive_weight: options.positiveWeight,
    },
    metrics: { ...evaluation, onnx_max_abs_diff: onnxMaxAbsDiff },
  }
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  writeFileSync(
    join(dir, 'metrics.json'),
    `${JSON.stringify({ holdout: evaluation, onnx_max_abs_diff: onnxMaxAbsDiff }, null, 2)}\n`,
  )
  writeFileSync(join(dir, 'card.md'), modelCard(manifest, evaluation, model.weights))

  const registryPath = join(options.modelsDir, 'registry.json')
  const promoted = options.promote || !existsSync(registryPath)
  if (promoted) {
    const registry: ModelRegistry = { champion: `${options.name}@${version}`, shadows: [] }
    writeFileSync(registryPath, `${JSON.stringify(registry, null, 2)}\n`)
  }
  return {
    ref: `${options.name}@${version}`,
    dir,
    trainRows: split,
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

function modelCard(manifest: ModelManifest, e: Evaluation, weights: Float64Array): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`
  const weightRows = manifest.feature_contract.names.map((n, i) => `| ${n} | ${weights[i]!.toFixed(4)} |`).join('\n')
  return `# ${manifest.name}@${manifest.version}

Logistic regression on standardised signed-log card features (sign(x)·ln(1 + |x|)), trained by \`fraudstream train\`.

- Feature contract: \`${manifest.feature_contract.hash}\` (${manifest.feature_contract.names.length} features, see \`topology/features.ts\`)
- Training data: generated transactions, seed ${String(manifest.training.seed)}, ${String(manifest.training.transactions)} transactions
  (${String(manifest.training.event_time_from)} to ${String(manifest.training.event_time_to)}), time split 70/30.
- Thresholds: review ≥ ${manifest.thresholds.review}, decline ≥ ${manifest.thresholds.decline}

## Holdout metrics (${e.rows} transactions, ${e.positives} fraud)
| metric | value |
| --- | --- |
| AUC-PR (average precision) | ${e.auc_pr.toFixed(4)} |
| ROC AUC | ${e.auc_roc.toFixed(4)} |
| decline rate / precision / recall | ${pct(e.decline_rate)} / ${pct(e.precision_at_decline)} / ${pct(e.recall_at_decline)} |
| review-or-decline recall / precision | ${pct(e.recall_at_review)} / ${pct(e.precision_at_review)} |

## Weights (on standardised signed-log features)
| feature | weight |
| --- | --- |
${weightRows}

## Limits
Trained on synthetic data: it knows the generator's three fraud patterns and nothing else. Replace it with a model
trained on your labelled scores before production use.
`
}
