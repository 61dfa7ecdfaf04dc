import type { BacktestModel, BacktestReport } from './backtest-report.js'

type Cell = (m: BacktestModel) => string

const fixed = (x: number | null, digits = 4) => (x === null ? '–' : x.toFixed(digits))
const percent = (x: number) => `${(x * 100).toFixed(2)} %`
const money = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 })
const signed = (text: string, x: number) => (x > 0 ? `+${text}` : x < 0 ? text : `±${text.replace(/^-/, '')}`)

/** A figure, and after it its difference from the baseline (on the other models' lines). */
function withDiff(value: string, diff: number | null, show: (d: number) => string): Cell {
  return (m) => (m.is_baseline || diff === null ? value : `${value} (${signed(show(diff), diff)})`)
}

/** The columns a person compares, each with its difference from the baseline. */
const COLUMNS: readonly {
  readonly title: (r: BacktestReport) => string
  readonly cell: (m: BacktestModel) => string
}[] = [
  { title: () => 'model', cell: (m) => (m.is_baseline ? `${m.model} (baseline)` : m.model) },
  { title: () => 'AUC-PR', cell: (m) => withDiff(fixed(m.auc_pr), m.diff.auc_pr, (d) => fixed(d))(m) },
  {
    title: () => 'recall@1%FPR',
    cell: (m) => withDiff(fixed(m.recall_at_1pct_fpr), m.diff.recall_at_1pct_fpr, (d) => fixed(d))(m),
  },
  {
    title: (r) => `card P@${r.card_k}/day`,
    cell: (m) => withDiff(fixed(m.card_precision.mean), m.diff.card_precision, (d) => fixed(d))(m),
  },
  { title: () => 'review', cell: (m) => withDiff(percent(m.review_rate), m.diff.review_rate, percent)(m) },
  { title: () => 'decline', cell: (m) => withDiff(percent(m.decline_rate), m.diff.decline_rate, percent)(m) },
  {
    title: () => 'fraud caught',
    cell: (m) =>
      withDiff(`${money(m.fraud_amount_caught)} of ${money(m.fraud_amount)}`, m.diff.fraud_amount_caught, money)(m),
  },
  {
    title: () => 'alerts/day',
    cell: (m) => withDiff(m.alerts_per_day.toFixed(2), m.diff.alerts_per_day, (d) => d.toFixed(2))(m),
  },
]

function cellsOf(report: BacktestReport): { header: string[]; rows: string[][] } {
  return {
    header: COLUMNS.map((c) => c.title(report)),
    rows: report.models.map((m) => COLUMNS.map((c) => c.cell(m))),
  }
}

/** What the label-based figures count, in one sentence. */
function scopeLine(report: BacktestReport): string {
  const base = report.models[0]!
  return (
    `labels known at ${report.label_cutoff} (run ${report.labels_run_id}'s); label-based figures count transactions ` +
    `at or before ${report.matured_before} (maturity ${report.maturity_days} days): ${base.matured.toLocaleString('en-US')} ` +
    `of ${base.model}'s ${base.transactions.toLocaleString('en-US')}, ${base.left_out_immature.toLocaleString('en-US')} ` +
    `younger left out, ${base.frauds.toLocaleString('en-US')} frauds`
  )
}

/** The report as a fixed-width table: one line per model, differences from the baseline in parentheses. */
export function formatBacktestReport(report: BacktestReport): string {
  const { header, rows } = cellsOf(report)
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()
  const first = report.models[0]!
  return [
    `backtest of run ${report.run_id}: ${report.models.length} model(s), ${first.first_event_time} → ${first.last_event_time}`,
    scopeLine(report),
    '',
    line(header),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
  ].join('\n')
}

/** The report as Markdown: the comparison table, then card precision and alerts per day. */
export function backtestMarkdown(report: BacktestReport): string {
  const { header, rows } = cellsOf(report)
  const table = (head: readonly string[], body: readonly (readonly string[])[]) =>
    [
      `| ${head.join(' | ')} |`,
      `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
      ...body.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n')
  const days = [...new Set(report.models.flatMap((m) => m.alerts_by_day.map((d) => d.day)))].sort()
  const perDay = days.map((day) => [
    day,
    ...report.models.flatMap((m) => {
      const precision = m.card_precision.days.find((d) => d.day === day)
      const alerts = m.alerts_by_day.find((d) => d.day === day)
      return [precision ? fixed(precision.precision) : '–', alerts ? String(alerts.alerts) : '–']
    }),
  ])
  const perDayHeader = [
    'day',
    ...report.models.flatMap((m) => [`${m.model} card P@${report.card_k}`, `${m.model} alerts`]),
  ]
  return [
    `# Backtest of run \`${report.run_id}\``,
    '',
    `- created: ${report.created_at}`,
    `- ${scopeLine(report)}`,
    `- baseline: ${report.models[0]!.model}; differences from it in parentheses`,
    '- review and decline rates, alerts (declines) per day: every transaction the model scored; AUC-PR, recall, card precision and fraud caught: the matured ones',
    '',
    table(header, rows),
    '',
    '## Per day',
    '',
    table(perDayHeader, perDay),
    '',
  ].join('\n')
}
