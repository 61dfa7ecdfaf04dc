import type { Command } from 'commander'
import {
  baselineOf,
  defaultWindows,
  driftLevelOf,
  maturedWindow,
  newestEventMs,
  queryDrift,
  queryLabelMetrics,
  retrainAdviceOf,
  type DriftRow,
  type LabelMetrics,
  type ModelBaseline,
  type RetrainAdvice,
  type TimeWindow,
} from '../adapters/clickhouse/drift-queries.js'
import { createClickhouseClient } from '../adapters/clickhouse/client.js'
import { loadModelPackage } from '../adapters/onnx/model-package.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import {
  formatInt,
  loadCliConfig,
  parseInteger,
  parseNumber,
  parseTimeMs,
  renderTable,
  runCommand,
  withCommonOptions,
  type CommonOptions,
} from './common.js'

interface DriftOptions extends CommonOptions {
  readonly reference?: string
  readonly current?: string
  readonly model?: string
  readonly runId: string
  readonly maturityDays?: string
  readonly retrainMargin?: string
}

/** Errors exit 3: 0, 1 and 2 are the drift levels cron and CI act on. */
const FAILURE_EXIT_CODE = 3

export function registerDrift(program: Command): void {
  const command = program
    .command('drift')
    .description(
      'compare feature and score distributions of two windows of scores (PSI and KS, computed in ClickHouse); exit 0 ok, 1 warn, 2 alert',
    )
    .option(
      '--reference <from..to>',
      'reference window of event time, [from, to): ISO-8601 (UTC unless a zone is given) or epoch ms (default: the 7 days before --current)',
    )
    .option('--current <from..to>', 'current window, as --reference (default: the day up to the newest scored event)')
    .option(
      '--model <name[@version]>',
      "the model version whose scores are compared, whatever part it played (champion, challenger or shadow); without @version, the version that decided most in the current window; the version's manifest gives the retraining baseline (default: the registry's champion)",
    )
    .option('--run-id <id>', "the scores' run: live, or a replay's --run-id", 'live')
    .option(
      '--maturity-days <days>',
      'days after which labels count as final (default analytics.labelMaturityDays, 30)',
    )
    .option(
      '--retrain-margin <x>',
      'advise retraining when recall or F1 fell this far below the baseline (default analytics.drift.retrainMargin, 0.1)',
    )
  withCommonOptions(command, { logLevel: 'warn' })
    .addHelpText(
      'after',
      `
Every feature of the scores and the score itself, worst first: PSI over bins cut at the reference window's deciles
(analytics.drift.bins), and the two-sample Kolmogorov–Smirnov distance. A feature is warn when the larger of the two
reaches analytics.drift.warn (0.15), alert at analytics.drift.alert (0.20). The query is clickhouse/queries/drift.sql.
Both windows read the model version's own rows in every role, without fallback rows (no model scored those).
Retraining is advised when recall or F1 of the latest matured window (labels older than the maturity) fell below the
model's holdout figures by the margin. Exit codes: 0 ok, 1 warn, 2 alert, 3 the command failed.
  fraudstream drift
  fraudstream drift --reference 2026-01-05..2026-01-12 --current 2026-01-12..2026-01-13 --json`,
    )
    .action(async (opts: DriftOptions) => {
      await runCommand(
        opts,
        async () => {
          // Options are parsed here rather than by commander: a malformed one must exit 3, not 1 (warn).
          const overrides = {
            ...(opts.maturityDays !== undefined
              ? { 'analytics.labelMaturityDays': parseInteger('--maturity-days', 1)(opts.maturityDays) }
              : {}),
            ...(opts.retrainMargin !== undefined
              ? { 'analytics.drift.retrainMargin': parseNumber('--retrain-margin', 0, 1)(opts.retrainMargin) }
              : {}),
          }
          const { config } = loadCliConfig(opts, overrides, { logLevel: 'warn' })
          const given = {
            ...(opts.reference !== undefined ? { reference: parseWindow('--reference', opts.reference) } : {}),
            ...(opts.current !== undefined ? { current: parseWindow('--current', opts.current) } : {}),
          }
          const report = await driftReport(config, opts, given)
          if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, ...report })}\n`)
          else process.stdout.write(renderReport(report, config))
          return report.level
        },
        { failureExitCode: FAILURE_EXIT_CODE },
      )
    })
}

export interface DriftReport {
  readonly model: string
  readonly run_id: string
  readonly reference: { from: string; to: string }
  readonly current: { from: string; to: string }
  readonly thresholds: { warn: number; alert: number; bins: number }
  /** 0 ok, 1 warn, 2 alert: the exit code. */
  readonly level: 0 | 1 | 2
  readonly features: readonly DriftRow[]
  readonly retrain: RetrainAdvice & {
    readonly model_version: string | null
    readonly baseline: ModelBaseline | null
    readonly matured: LabelMetrics | null
    readonly maturity_days: number
    readonly margin: number
  }
}

async function driftReport(
  config: Config,
  opts: DriftOptions,
  given: { reference?: TimeWindow; current?: TimeWindow },
): Promise<DriftReport> {
  const { name, version, baseline } = modelOf(config, opts.model)
  const client = await createClickhouseClient(config)
  try {
    const newest = await newestEventMs(client, opts.runId)
    if (newest === undefined) {
      throw new FraudstreamError(
        ErrorCode.usage,
        `no scores of run "${opts.runId}" yet: run the job (npm start) or give the --run-id of a replay`,
        'input',
      )
    }
    const drift = config.analytics.drift
    const { reference, current } = defaultWindows(newest, given, drift)
    const features = await queryDrift(client, {
      runId: opts.runId,
      model: name,
      ...(version !== undefined ? { version } : {}),
      reference,
      current,
      drift,
    })
    const matured =
      version === undefined
        ? undefined
        : await queryLabelMetrics(client, {
            runId: opts.runId,
            model: name,
            version,
            window: maturedWindow(newest, config.analytics.labelMaturityDays, drift.retrainWindowDays),
          })
    const advice = retrainAdviceOf(matured, baseline, drift.retrainMargin)
    return {
      model: name,
      run_id: opts.runId,
      reference: isoWindow(reference),
      current: isoWindow(current),
      thresholds: { warn: drift.warn, alert: drift.alert, bins: drift.bins },
      level: driftLevelOf(features),
      features,
      retrain: {
        ...(version === undefined
          ? { kind: 'unknown' as const, reasons: [`give --model ${name}@<version> for a baseline`] }
          : advice),
        model_version: version ?? null,
        baseline: baseline ?? null,
        matured: matured ?? null,
        maturity_days: config.analytics.labelMaturityDays,
        margin: drift.retrainMargin,
      },
    }
  } finally {
    await client.close()
  }
}

/** The model to judge: --model, else the registry's champion; a version's manifest gives the baseline. */
function modelOf(
  config: Config,
  ref: string | undefined,
): { name: string; version: string | undefined; baseline: ModelBaseline | undefined } {
  if (ref !== undefined && !ref.includes('@')) return { name: ref, version: undefined, baseline: undefined }
  const pkg = loadModelPackage(config.model.dir, ref ?? config.model.champion)
  return { name: pkg.manifest.name, version: pkg.manifest.version, baseline: baselineOf(pkg.manifest.metrics) }
}

function isoWindow(w: TimeWindow): { from: string; to: string } {
  return { from: new Date(w.fromMs).toISOString(), to: new Date(w.toMs).toISOString() }
}

/** Parses `from..to`: each ISO-8601 (UTC without a zone) or epoch ms, from before to. */
function parseWindow(option: string, text: string): TimeWindow {
  const parts = text.split('..')
  const [from, to] = parts.map(parseTimeMs)
  if (parts.length !== 2 || from === undefined || to === undefined || !(from < to)) {
    throw new FraudstreamError(
      ErrorCode.usage,
      `${option} must be <from>..<to> with from before to, each ISO-8601 or epoch ms, e.g. 2026-01-05..2026-01-12T12:00, got "${text}"`,
      'input',
    )
  }
  return { fromMs: from, toMs: to }
}

const fixed = (x: number | null, digits = 4) => (x === null ? '–' : x.toFixed(digits))

function renderReport(report: DriftReport, config: Config): string {
  const rows = report.features
  // The score row counts every scored transaction; a feature may lack some (rows scored without it).
  const scores = (key: 'reference_rows' | 'current_rows') => Math.max(0, ...rows.map((r) => r[key]))
  const count = (status: string) => rows.filter((r) => r.status === status).length
  const lines = [
    `drift of ${report.model}${report.retrain.model_version !== null ? `@${report.retrain.model_version}` : ''} (run ${report.run_id}): reference ${report.reference.from} → ${report.reference.to} (${formatInt(scores('reference_rows'))} scores), current ${report.current.from} → ${report.current.to} (${formatInt(scores('current_rows'))} scores)`,
    '',
    renderTable(
      ['feature', 'psi', 'ks', 'status', 'ref median', 'cur median'],
      rows.map((r) => [
        r.feature,
        fixed(r.psi),
        fixed(r.ks),
        r.status,
        fixed(r.reference_median, 2),
        fixed(r.current_median, 2),
      ]),
    ),
    '',
    `${count('alert')} alert, ${count('warn')} warn, ${count('ok')} ok${count('no_data') > 0 ? `, ${count('no_data')} without data` : ''} (warn ≥ ${report.thresholds.warn}, alert ≥ ${report.thresholds.alert} on PSI or KS): exit ${report.level}`,
    retrainLine(report, config),
  ]
  return `${lines.join('\n')}\n`
}

function retrainLine(report: DriftReport, config: Config): string {
  const r = report.retrain
  const verdict = r.kind === 'retrain' ? 'recommended' : r.kind === 'keep' ? 'not needed' : 'cannot tell'
  const window = r.matured
    ? ` (matured window ${new Date(r.matured.window.fromMs).toISOString().slice(0, 10)} → ${new Date(r.matured.window.toMs).toISOString().slice(0, 10)}: ${formatInt(r.matured.transactions)} scores, ${formatInt(r.matured.frauds)} frauds; labels final after ${config.analytics.labelMaturityDays} days)`
    : ''
  return `retraining: ${verdict}: ${r.reasons.join('; ')}${window}`
}
