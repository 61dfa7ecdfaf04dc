import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { cardFraudFeatures } from '../../topology/features.js'
import type { ModelManifest, ModelRegistry } from '../adapters/onnx/model-package.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { featureContractHash, type FeatureDefinition } from '../stages/features/feature-definition.js'
import type { Config } from '../config/schema.js'
import { promote } from '../models/registry.js'
import type { Evaluation } from './evaluate.js'
import {
  defaultEvaluationSettings,
  evaluationReport,
  type EvaluationReport,
  type EvaluationSettings,
  type ScoredSplit,
} from './evaluation-report.js'
import { modelCard, describeSource } from './model-card.js'
import { generateTrainingSet, timeSplit, type TrainingSet, type TrainingSource } from './training-set.js'
import { logisticToOnnx, ONNX_CONTRIBUTIONS_NAME, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from './export-onnx.js'
import { predictLogistic, trainLogistic } from './logistic-regression.js'
import { defaultGbdtOptions, trainGbdt, type GbdtOptions } from './gbdt/gbdt.js'
import { gbdtToOnnx } from './gbdt/gbdt-onnx.js'
import { predictGbdt } from './gbdt/trees.js'

export { generateTrainingSet, timeSplit, type TrainingSet } from './training-set.js'

export interface TrainCommandOptions {
  readonly modelsDir: string
  readonly name: string
  /** The trees' seed, and the generator's when no `data` is given. */
  readonly seed: number
  /** Generated transactions to train on when no `data` is given. */
  readonly transactions: number
  readonly fraudRate: number
  /**
   * Rows to train on (from files or ClickHouse: fileTrainingSet, clickhouseTrainingSet), in event-time order;
   * without them, `transactions` are generated.
   */
  readonly data?: TrainingSet
  /** The feature set the rows are computed with (default topology/features.ts). */
  readonly features?: readonly FeatureDefinition[]
  /** The model: the logistic baseline (default) or gradient-boosted trees. */
  readonly kind?: 'logistic' | 'gbdt'
  readonly epochs: number
  readonly positiveWeight: number
  /** Tree settings (kind gbdt); the positive weight is positiveWeight. */
  readonly gbdt?: Partial<GbdtOptions>
  /** The seed thresholds: written as they are when tuning is off, and the baseline the tuned ones are costed against. */
  readonly thresholds: { readonly review: number; readonly decline: number }
  /** Metrics and cost-based threshold tuning (defaultEvaluationSettings). */
  readonly evaluation?: Partial<EvaluationSettings>
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
  /** Threshold metrics on the test split at the chosen thresholds. */
  readonly evaluation: Evaluation
  readonly report: EvaluationReport
  /** Where the rows came from and how they were labelled. */
  readonly source: TrainingSource
  /** Largest |TypeScript − onnxruntime| score over the test set: the export check. */
  readonly onnxMaxAbsDiff: number
  readonly promoted: boolean
}

/** The logistic baseline's settings, for `train` and the benchmarks that compare against it. */
export function logisticSettings(epochs: number, positiveWeight: number) {
  return { epochs, learningRate: 0.05, l2: 1e-4, positiveWeight }
}

/**
 * Trains a card-fraud model (the logistic baseline or gradient-boosted trees) on a training set split by time, checks
 * its ONNX export against the TypeScript model, evaluates it (evaluationReport: ranking metrics, card precision,
 * thresholds chosen by cost on the validation split) and writes a model package: model.onnx, manifest.json (with the
 * chosen thresholds), metrics.json and card.md.
 */
export async function trainModel(options: TrainCommandOptions): Promise<TrainResult> {
  const features = options.features ?? cardFraudFeatures
  const set = options.data ?? generateTrainingSet({ ...options, features })
  const { rows, labels } = set
  const { validFrom, testFrom: split } = timeSplit(rows.length)
  if (validFrom < 1 || rows.length - split < 1 || !labels.slice(0, validFrom).some(Boolean))
    throw new FraudstreamError(
      ErrorCode.usage,
      `${rows.length} training rows (${labels.filter(Boolean).length} fraud) cannot be split into train, validation and test with fraud to learn from: give more data (a wider window, an older label cutoff or more transactions)`,
      'input',
    )
  const settings = { ...defaultEvaluationSettings, ...options.evaluation }
  const testRows = rows.slice(split)
  // A given version is written in place (a reproducible package: `npm run train:default`), otherwise the next one.
  const version = options.version ?? nextVersion(options.modelsDir, options.name)
  const names = features.map((f) => f.name)
  const hash = featureContractHash(features)
  const docString = `fraudstream ${options.name}@${version}, feature contract ${hash}`
  const gbdtOptions: GbdtOptions = {
    ...defaultGbdtOptions,
    scalePosWeight: options.positiveWeight,
    seed: options.seed,
    ...options.gbdt,
  }
  let fitted: { predict: (row: Float32Array) => number; onnx: Uint8Array; trainRows: number; card: string }
  if (options.kind === 'gbdt') {
    const result = trainGbdt(
      { rows: rows.slice(0, validFrom), labels: labels.slice(0, validFrom) },
      names,
      gbdtOptions,
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
      card: `Logistic regression on standardised signed-log card features (sign(x)·ln(1 + |x|)), trained by \`fraudstream train\` on the train and validation splits (so its thresholds are tuned on rows it saw).\n\n## Weights (on standardised signed-log features)\n| feature | weight |\n| --- | --- |\n${names.map((n, i) => `| ${n} | ${model.weights[i]!.toFixed(4)} |`).join('\n')}`,
    }
  }
  const scored = (from: number, to: number): ScoredSplit => ({
    scores: rows.slice(from, to).map(fitted.predict),
    labels: labels.slice(from, to),
    amounts: set.amounts.slice(from, to),
    cardIds: set.cardIds.slice(from, to),
    eventTimesMs: set.eventTimesMs.slice(from, to),
  })
  options.onProgress?.('evaluating', 0, 1)
  const test = scored(split, rows.length)
  const report = evaluationReport(
    { train: scored(0, validFrom), validation: scored(validFrom, split), test },
    options.thresholds,
    settings,
  )
  options.onProgress?.('evaluating', 1, 1)
  const evaluation = report.at_thresholds

  const dir = join(options.modelsDir, options.name, version)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'model.onnx'), fitted.onnx)

  const onnxMaxAbsDiff = await compareWithOnnx(join(dir, 'model.onnx'), testRows, test.scores as number[])
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
  const source = set.source
  const manifest: ModelManifest = {
    name: options.name,
    version,
    created_at: createdAt,
    parent_version: previousVersion(options.modelsDir, options.name, version),
    kind: options.kind === 'gbdt' ? 'gradient_boosted_trees' : 'logistic_regression',
    feature_contract: { hash, names, types: names.map(() => 'float32') },
    input: { name: ONNX_INPUT_NAME, shape: ['N', names.length] },
    output: { name: ONNX_OUTPUT_NAME, shape: ['N'] },
    thresholds: report.thresholds.chosen,
    explanation: {
      output: ONNX_CONTRIBUTIONS_NAME,
      method: options.kind === 'gbdt' ? 'path' : 'linear',
      space: 'margin',
    },
    training: {
      data: source.kind === 'generator' ? 'fraudstream generator' : describeSource(source),
      ...(source.kind === 'generator'
        ? { seed: options.seed, fraud_rate: source.fraud_rate }
        : { source, seed: options.seed }),
      transactions: rows.length,
      train_rows: fitted.trainRows,
      validation_rows: split - validFrom,
      test_rows: testRows.length,
      event_time_from: new Date(set.firstEventMs).toISOString(),
      event_time_to: new Date(set.lastEventMs).toISOString(),
      ...(options.kind === 'gbdt' ? { gbdt: gbdtOptions } : { epochs: options.epochs }),
      positive_weight: options.positiveWeight,
      thresholds: {
        method: report.thresholds.method,
        seed: report.thresholds.seed,
        review_cost: settings.reviewCost,
        decline_cost: settings.declineCost,
      },
    },
    metrics: {
      ...evaluation,
      recall_at_1pct_fpr: report.test.recall_at_1pct_fpr,
      recall_at_2pct_fpr: report.test.recall_at_2pct_fpr,
      ...(report.test.card_precision.mean === null
        ? {}
        : { [`card_precision_at_${report.test.card_precision.k}`]: report.test.card_precision.mean }),
      onnx_max_abs_diff: onnxMaxAbsDiff,
    },
  }
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  writeFileSync(
    join(dir, 'metrics.json'),
    `${JSON.stringify({ data: source, ...report, onnx_max_abs_diff: onnxMaxAbsDiff }, null, 2)}\n`,
  )
  writeFileSync(join(dir, 'card.md'), modelCard(manifest, report, source, fitted.card))

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
    report,
    source,
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
