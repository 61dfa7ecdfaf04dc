import type { Command } from 'commander'
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
  epochs: number
  positiveWeight: number
  promote?: boolean
  modelsDir?: string
}

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description(
      'train the card-fraud logistic model on generated transactions (features from the stream code path) and export it to ONNX',
    )
    .option('--name <name>', 'model name under models/', 'card-fraud-lr')
    .option('--seed <n>', 'generator seed of the training data', parseInteger('--seed', 0), 1)
    .option('--transactions <n>', 'training + holdout transactions', parseInteger('--transactions', 1_000), 150_000)
    .option('--fraud-rate <p>', 'fraud share of the training data', parseNumber('--fraud-rate', 0.001, 0.5), 0.01)
    .option('--epochs <n>', 'full-batch Adam epochs', parseInteger('--epochs', 1), 300)
    .option('--positive-weight <w>', 'weight of a fraud example', parseNumber('--positive-weight', 1), 5)
    .option('--promote', 'make the new version the champion in models/registry.json')
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
        epochs: opts.epochs,
        positiveWeight: opts.positiveWeight,
        thresholds: config.thresholds,
        config,
        promote: opts.promote ?? false,
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
