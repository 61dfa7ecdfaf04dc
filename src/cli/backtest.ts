import { writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import { createClickhouseClient } from '../adapters/clickhouse/client.js'
import { errorMessageOf, ErrorCode, FraudstreamError } from '../core/errors.js'
import { backtestMarkdown, backtestReport, formatBacktestReport } from '../replay/backtest-report.js'
import {
  loadCliConfig,
  parseInteger,
  parseTimeOption,
  runCommand,
  withCommonOptions,
  type CommonOptions,
} from './common.js'

interface BacktestCliOptions extends CommonOptions {
  readonly runId?: string
  readonly labelCutoff?: number
  readonly maturityDays?: number
  readonly models?: string
  readonly cardK?: number
  readonly labelsRunId?: string
  readonly out?: string
}

export function registerBacktest(program: Command): void {
  const command = program
    .command('backtest')
    .description(
      "compare the models of a replay's run: AUC-PR, recall at 1 % FPR, card precision@100 per day, review and decline rates, fraud amount caught, alerts per day, each against the first model; saved into backtest_reports",
    )
    .option('--run-id <id>', "the run to report: a replay's --run-id, or live")
    .option(
      '--label-cutoff <time>',
      'labels reported after this are not known, ISO-8601 (UTC unless a zone is given) or epoch ms (default: now)',
      parseTimeOption('--label-cutoff'),
    )
    .option(
      '--maturity-days <days>',
      'transactions younger than this many days before the cutoff are left out of the label-based figures (default analytics.labelMaturityDays, 30)',
      parseInteger('--maturity-days', 0),
    )
    .option(
      '--models <name@version,...>',
      'the models to compare, the first the baseline (default: every model that scored the run, the one that decided most first)',
    )
    .option(
      '--card-k <k>',
      'cards an investigator checks a day, for card precision@k',
      parseInteger('--card-k', 1),
      100,
    )
    .option(
      '--labels-run-id <id>',
      "whose labels: default the run's own when the labels table has some (a replay of files), else live",
    )
    .option('--out <file.md>', 'also write the report as Markdown to this file, and as JSON beside it (<file>.json)')
  withCommonOptions(command, { logLevel: 'warn' })
    .addHelpText(
      'after',
      `
Each model's own rows in the run, whatever part it played (champion, challenger, shadow), fallback rows excluded.
Labels: the latest reported at or before --label-cutoff; a matured transaction without one is legitimate.
AUC-PR, recall, card precision and fraud caught count matured transactions only (at least --maturity-days before the
cutoff), and the report says how many younger ones were left out; rates and alerts count every row. A card is
dropped from later days of card precision once the model declined one of its frauds. Every run appends a report to
the backtest_reports table (run fraudstream migrate first on an older data directory):
  fraudstream backtest --run-id a
  fraudstream backtest --run-id a --label-cutoff 2026-04-01 --maturity-days 30 --out report.md
  fraudstream sql "SELECT model_name, model_version, auc_pr, diff_auc_pr FROM backtest_reports WHERE run_id = 'a' ORDER BY created_at DESC, position LIMIT 2"`,
    )
    .action(async (opts: BacktestCliOptions) => {
      await runCommand(opts, async () => {
        if (opts.runId === undefined || opts.runId.trim() === '')
          throw new FraudstreamError(
            ErrorCode.usage,
            "give the run to report: --run-id <id> (live, or a replay's run id)",
            'input',
          )
        const { config } = loadCliConfig(opts, {}, { logLevel: 'warn' })
        const models = opts.models
          ?.split(',')
          .map((m) => m.trim())
          .filter((m) => m.length > 0)
        for (const m of models ?? []) {
          if (!/^[^@]+@[^@]+$/.test(m))
            throw new FraudstreamError(
              ErrorCode.usage,
              `--models takes name@version, comma-separated, got "${m}"`,
              'input',
            )
        }
        const client = await createClickhouseClient(config)
        let report
        try {
          report = await backtestReport(client, {
            runId: opts.runId,
            labelCutoffMs: opts.labelCutoff ?? Date.now(),
            maturityDays: opts.maturityDays ?? config.analytics.labelMaturityDays,
            cardK: opts.cardK ?? 100,
            ...(models !== undefined && models.length > 0 ? { models } : {}),
            ...(opts.labelsRunId !== undefined ? { labelsRunId: opts.labelsRunId } : {}),
          })
        } finally {
          await client.close()
        }
        if (opts.out !== undefined) {
          const json = `${opts.out.replace(/\.md$/i, '')}.json`
          try {
            writeFileSync(opts.out, backtestMarkdown(report))
            writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`)
          } catch (err) {
            throw new FraudstreamError(
              ErrorCode.usage,
              `--out ${opts.out} cannot be written: ${errorMessageOf(err)}`,
              'input',
              false,
              { cause: err },
            )
          }
        }
        process.stdout.write(opts.json ? `${JSON.stringify({ ok: true, ...report })}\n` : formatBacktestReport(report))
      })
    })
}
