import type { Command } from 'commander'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { defaultGbdtOptions } from '../training/gbdt/gbdt.js'
import { trainModel } from '../training/train.js'
import {
  loadCliConfig,
  parseInteger,
  parseNumber,
  runCommand,
  withCommonOptions,
  type CommonOptions,
} from './common.js'

interface TrainOptions extends CommonOptions {
  name: string
  seed: number
  transactions: number
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
      'train the card-fraud model (logistic baseline or gradient-boosted trees) on generated transactions, with features from the stream code path, and export it to ONNX',
    )
    .option('--kind <kind>', 'logistic | gbdt', parseKind, 'logistic')
    .option('--name <name>', 'model name under models/', 'card-fraud-lr')
    .option('--seed <n>', 'generator seed of the training data', parseInteger('--seed', 0), 1)
    .option('--transactions <n>', 'training + holdout transactions', parseInteger('--transactions', 1_000), 150_000)
    .option('--fraud-rate <p>', 'fraud share of the training data', parseNumber('--fraud-rate', 0.001, 0.5), 0.01)
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
    .option('--promote', 'make the new version the champion in models/registry.json')
    .option(
      '--model-version <n>',
      'write this version, replacing its files if it exists (default: the next one)',
      parseInteger('--model-version', 1),
    )
    .option('--models-dir <dir>', 'model registry directory (default: model.dir from config, ./models)')
  withCommonOptions(command, { logLevel: 'warn' }).action(async (opts: TrainOptions) => {
    await runCommand(opts, async () => {
      const { config } = loadCliConfig(opts, opts.modelsDir ? { 'model.dir': opts.modelsDir } : {}, {
        logLevel: 'warn',
      })
      const result = await trainModel({
        modelsDir: config.model.dir,
        name: opts.name,
        seed: opts.seed,
        transactions: opts.transactions,
        fraudRate: opts.fraudRate,
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
        config,
        promote: opts.promote ?? false,
        ...(opts.modelVersion !== undefined ? { version: String(opts.modelVersion) } : {}),
        onProgress: opts.json
          ? undefined
          : (phase, done, total) => process.stderr.write(`  ${phase} ${done}/${total}\n`),
      })
      const e = result.evaluation
      if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`)
      else
        process.stdout.write(
          `trained ${result.ref} → ${result.dir}\n  holdout ${e.rows} rows (${e.positives} fraud): AUC-PR ${e.auc_pr.toFixed(3)}, ROC AUC ${e.auc_roc.toFixed(3)}, decline precision ${(e.precision_at_decline * 100).toFixed(1)} % recall ${(e.recall_at_decline * 100).toFixed(1)} %\n  ONNX matches TypeScript within ${result.onnxMaxAbsDiff.toExponential(1)}${result.promoted ? '; promoted to champion' : '; not promoted (use --promote)'}\n`,
        )
    })
  })
}

function parseKind(value: string): 'logistic' | 'gbdt' {
  if (value === 'logistic' || value === 'gbdt') return value
  throw new FraudstreamError(ErrorCode.usage, `--kind must be logistic or gbdt, got "${value}"`, 'input')
}
