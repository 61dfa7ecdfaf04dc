import type { ModelManifest } from '../adapters/onnx/model-package.js'
import type { CostBreakdown } from './cost-thresholds.js'
import { rankingLines, type EvaluationReport } from './evaluation-report.js'
import type { TrainingSource } from './training-set.js'

const pct = (x: number) => `${(x * 100).toFixed(2)} %`
const money = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 })
const int = (x: number) => x.toLocaleString('en-US')

function table(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
}

/** One line saying where the rows came from and how they were labelled. */
export function describeSource(source: TrainingSource): string {
  switch (source.kind) {
    case 'generator':
      return `generated transactions (fraudstream generator, seed ${source.seed}, fraud rate ${pct(source.fraud_rate)}), features from the stream's own code path, labels the generator's truth`
    case 'file':
      return `transactions from \`${source.transactions}\`${source.labels ? ` labelled from \`${source.labels}\`` : ' without a labels file'}, features from the stream's own code path (as \`fraudstream features\`)`
    case 'clickhouse':
      return `ClickHouse \`scores\` of run \`${source.run_id}\` with event time in [${source.from}, ${source.to}): the features as logged at scoring time`
  }
}

function labelSection(source: TrainingSource): string {
  if (source.kind === 'generator') return ''
  const t = source.labels_used
  return `
Labels as known at ${source.label_cutoff} (the latest label reported by then; later reports are not used). A transaction
without a label by then counts as legitimate if it is at least ${source.label_maturity_days} days older than the cutoff
(analytics.labelMaturityDays), and is left out otherwise, since its fraud may not be reported yet.

${table(
  ['rows read', 'fraud', 'labelled legitimate', 'unlabelled → legitimate', 'unlabelled, too recent → left out'],
  [
    [
      int(t.rows_read),
      int(t.fraud),
      int(t.labelled_legitimate),
      int(t.unlabelled_legitimate),
      int(t.unlabelled_dropped),
    ],
  ],
)}
`
}

function costRow(name: string, split: string, c: CostBreakdown): string[] {
  return [
    name,
    split,
    money(c.total),
    `${int(c.missed_frauds)} (${money(c.missed_fraud_amount)})`,
    `${int(c.reviews)} (${money(c.review_cost)})`,
    `${int(c.false_declines)} (${money(c.false_decline_cost)})`,
  ]
}

/**
 * card.md of a model package: what it is, what it learnt from, how it was split, and the evaluation report in the
 * sections the evaluation has (test metrics, card precision per day, confusion matrix, cost-based thresholds).
 * `about` is the model kind's own text: a first paragraph, then optional `## ` sections of its own.
 */
export function modelCard(
  manifest: ModelManifest,
  report: EvaluationReport,
  source: TrainingSource,
  about: string,
): string {
  const [first, ...extra] = about.split('\n## ')
  const intro = first!.trim()
  const { split, test, thresholds: t } = report
  const e = report.at_thresholds
  const c = t.confusion
  const splitRow = (name: string, s: typeof split.train) => [
    name,
    int(s.rows),
    int(s.fraud),
    s.from ?? '–',
    s.to ?? '–',
  ]
  const cardDays = test.card_precision.days
  return `# ${manifest.name}@${manifest.version}

${intro}

- Feature contract: \`${manifest.feature_contract.hash}\` (${manifest.feature_contract.names.length} features)
- Training data: ${describeSource(source)}
- Thresholds: review ≥ ${t.chosen.review}, decline ≥ ${t.chosen.decline} (${t.method})

## Data and split
Split ${split.method}.

${table(
  ['split', 'rows', 'fraud', 'from', 'to'],
  [splitRow('train', split.train), splitRow('validation', split.validation), splitRow('test', split.test)],
)}
${labelSection(source)}
## Test metrics (${int(split.test.rows)} transactions, ${int(split.test.fraud)} fraud)
${table(
  ['metric', 'value'],
  [
    ...rankingLines(report),
    [
      'decline rate / precision / recall',
      `${pct(e.decline_rate)} / ${pct(e.precision_at_decline)} / ${pct(e.recall_at_decline)}`,
    ],
    ['review-or-decline recall / precision', `${pct(e.recall_at_review)} / ${pct(e.precision_at_review)}`],
  ],
)}

## Card precision@${test.card_precision.k} per day
Each day (UTC, event time) of the test split, cards are ranked by their highest score that day; the figure is the share of compromised cards among the top ${test.card_precision.k}, divided by ${test.card_precision.k} even on a quieter day. A card with a fraud scored at or above the decline threshold is caught, and dropped from the later days. Mean over ${cardDays.length} days: ${test.card_precision.mean === null ? '–' : test.card_precision.mean.toFixed(4)}.

${table(
  ['day', 'cards', 'compromised', `hits in top ${test.card_precision.k}`, 'precision', 'dropped (caught before)'],
  cardDays.map((d) => [d.day, int(d.cards), int(d.compromised), int(d.hits), d.precision.toFixed(4), int(d.dropped)]),
)}

## Confusion matrix (test, review ≥ ${t.chosen.review}, decline ≥ ${t.chosen.decline})
${table(
  ['actual', 'approve', 'review', 'decline'],
  [
    ['fraud', int(c.fraud.approve), int(c.fraud.review), int(c.fraud.decline)],
    ['legitimate', int(c.legitimate.approve), int(c.legitimate.review), int(c.legitimate.decline)],
  ],
)}

## Cost-based thresholds
A missed (approved) fraud costs its amount, a review costs ${t.cost_model.review} (a reviewed fraud is stopped), a declined legitimate transaction costs ${t.cost_model.false_decline}; a declined fraud and an approved legitimate one cost nothing. Amounts are the transactions' own, unconverted. Thresholds: ${t.method}; the test split never chose them.

${table(
  ['thresholds', 'split', 'total cost', 'missed frauds (amount)', 'reviews (cost)', 'false declines (cost)'],
  [
    costRow(`chosen ${t.chosen.review} / ${t.chosen.decline}`, 'validation', t.cost.validation.chosen),
    costRow(`seed ${t.seed.review} / ${t.seed.decline}`, 'validation', t.cost.validation.seed),
    costRow(`chosen ${t.chosen.review} / ${t.chosen.decline}`, 'test', t.cost.test.chosen),
    costRow(`seed ${t.seed.review} / ${t.seed.decline}`, 'test', t.cost.test.seed),
  ],
)}
${extra.length ? `\n## ${extra.join('\n## ')}\n` : ''}
## Limits
${
  source.kind === 'generator'
    ? `Trained on synthetic data: it knows the generator's three fraud patterns and nothing else. Replace it with a model trained on your labelled scores (\`fraudstream train --from-clickhouse\`) before production use.`
    : `Labels reported after ${source.label_cutoff} are not used; recent weeks hold fraud not reported yet, so their unlabelled transactions were left out rather than taken as legitimate. Retrain as labels mature.`
}
`
}
