import { cardPrecisionAtK, type CardPrecision } from './card-precision.js'
import {
  confusionAt,
  costAt,
  tuneThresholds,
  type ConfusionMatrix,
  type CostBreakdown,
  type Thresholds,
} from './cost-thresholds.js'
import { evaluate, precisionAtK, recallAtFpr, type Evaluation } from './evaluate.js'

/** How a trained model is judged and its thresholds chosen (`fraudstream train --review-cost …`). */
export interface EvaluationSettings {
  /** What a review costs (an analyst's time), in the transactions' amount unit. */
  readonly reviewCost: number
  /** What declining a legitimate transaction costs. */
  readonly declineCost: number
  /** The k of precision@k on the test split. */
  readonly precisionAtK: readonly number[]
  /** Cards an investigator checks a day, for card precision@k. */
  readonly cardK: number
  /** Choose the thresholds by cost on the validation split; false keeps the seed thresholds. */
  readonly tuneThresholds: boolean
}

export const defaultEvaluationSettings: EvaluationSettings = {
  reviewCost: 5,
  declineCost: 50,
  precisionAtK: [100, 500, 1000],
  cardK: 100,
  tuneThresholds: true,
}

/** A split's rows scored by the model, with what the metrics need beside each score. */
export interface ScoredSplit {
  readonly scores: ArrayLike<number>
  readonly labels: readonly boolean[]
  readonly amounts: ArrayLike<number>
  readonly cardIds: readonly string[]
  readonly eventTimesMs: ArrayLike<number>
}

export interface SplitSummary {
  readonly rows: number
  readonly fraud: number
  /** First and last event time (ISO), null for an empty split. */
  readonly from: string | null
  readonly to: string | null
}

export interface CostComparison {
  readonly chosen: CostBreakdown
  readonly seed: CostBreakdown
}

export interface EvaluationReport {
  readonly split: {
    readonly method: string
    readonly train: SplitSummary
    readonly validation: SplitSummary
    readonly test: SplitSummary
  }
  /** Ranking metrics on the test split: they do not depend on thresholds. */
  readonly test: {
    readonly auc_roc: number
    readonly auc_pr: number
    readonly recall_at_1pct_fpr: number
    readonly recall_at_2pct_fpr: number
    /** By k; null when the split has fewer rows than k. */
    readonly precision_at_k: Readonly<Record<string, number | null>>
    readonly card_precision: CardPrecision
  }
  readonly thresholds: {
    readonly chosen: Thresholds
    readonly seed: Thresholds
    readonly method: string
    readonly cost_model: {
      readonly missed_fraud: 'its amount'
      readonly review: number
      readonly false_decline: number
    }
    /** Total cost and its parts at the chosen and at the seed thresholds, on validation (where chosen) and test. */
    readonly cost: { readonly validation: CostComparison; readonly test: CostComparison }
    /** Test split outcomes at the chosen thresholds. */
    readonly confusion: ConfusionMatrix
  }
  /** Threshold metrics on the test split at the chosen thresholds (the manifest's flat `metrics`). */
  readonly at_thresholds: Evaluation
}

function summaryOf(split: ScoredSplit): SplitSummary {
  const n = split.labels.length
  return {
    rows: n,
    fraud: split.labels.filter(Boolean).length,
    from: n ? new Date(split.eventTimesMs[0]!).toISOString() : null,
    to: n ? new Date(split.eventTimesMs[n - 1]!).toISOString() : null,
  }
}

/**
 * The evaluation of a trained model: ranking metrics and card precision on the test split, and thresholds chosen by
 * cost on the validation split (the test split never influences them), then reported on both.
 */
export function evaluationReport(
  splits: { readonly train: ScoredSplit; readonly validation: ScoredSplit; readonly test: ScoredSplit },
  seed: Thresholds,
  settings: EvaluationSettings,
): EvaluationReport {
  const { validation, test } = splits
  const model = { reviewCost: settings.reviewCost, declineCost: settings.declineCost }
  const tunable = settings.tuneThresholds && validation.labels.length > 0
  const chosen = tunable ? tuneThresholds(validation, model).thresholds : seed
  const method = tunable
    ? 'least total cost on the validation split, on a 0.01 grid'
    : settings.tuneThresholds
      ? 'seed thresholds (no validation rows to tune on)'
      : 'seed thresholds (tuning turned off)'
  const precision: Record<string, number | null> = {}
  for (const k of settings.precisionAtK) precision[String(k)] = precisionAtK(test.scores, test.labels, k)
  const atThresholds = evaluate(Array.from(test.scores), test.labels, chosen)
  return {
    split: {
      method: 'by event time: the oldest 60 % of rows train, the next 10 % validate, the newest 30 % test',
      train: summaryOf(splits.train),
      validation: summaryOf(validation),
      test: summaryOf(test),
    },
    test: {
      auc_roc: atThresholds.auc_roc,
      auc_pr: atThresholds.auc_pr,
      recall_at_1pct_fpr: recallAtFpr(test.scores, test.labels, 0.01),
      recall_at_2pct_fpr: recallAtFpr(test.scores, test.labels, 0.02),
      precision_at_k: precision,
      card_precision: cardPrecisionAtK(test, { k: settings.cardK, declineThreshold: chosen.decline }),
    },
    thresholds: {
      chosen,
      seed,
      method,
      cost_model: { missed_fraud: 'its amount', review: settings.reviewCost, false_decline: settings.declineCost },
      cost: {
        validation: { chosen: costAt(validation, chosen, model), seed: costAt(validation, seed, model) },
        test: { chosen: costAt(test, chosen, model), seed: costAt(test, seed, model) },
      },
      confusion: confusionAt(test, chosen),
    },
    at_thresholds: atThresholds,
  }
}

const fixed = (x: number | null, digits = 4) => (x === null ? '–' : x.toFixed(digits))
const money = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 })

/** The test split's ranking metrics as (metric, value) lines: the printed table and card.md show the same figures. */
export function rankingLines(report: EvaluationReport): [string, string][] {
  const { test } = report
  return [
    ['AUC-ROC', fixed(test.auc_roc)],
    ['AUC-PR (average precision)', fixed(test.auc_pr)],
    ['recall at 1 % FPR', fixed(test.recall_at_1pct_fpr)],
    ['recall at 2 % FPR', fixed(test.recall_at_2pct_fpr)],
    ...Object.entries(test.precision_at_k).map(([k, p]): [string, string] => [`precision@${k}`, fixed(p)]),
    [
      `card precision@${test.card_precision.k} per day (mean of ${test.card_precision.days.length} days)`,
      fixed(test.card_precision.mean),
    ],
  ]
}

/** The chosen thresholds and their cost against the seed thresholds, as (metric, value) lines. */
export function thresholdLines(report: EvaluationReport): [string, string][] {
  const { chosen, seed, cost } = report.thresholds
  const pair = (t: Thresholds) => `${t.review.toFixed(2)} / ${t.decline.toFixed(2)}`
  return [
    ['thresholds chosen (review / decline)', pair(chosen)],
    [
      `cost on validation: chosen vs seed ${pair(seed)}`,
      `${money(cost.validation.chosen.total)} vs ${money(cost.validation.seed.total)}`,
    ],
    ['cost on test: chosen vs seed', `${money(cost.test.chosen.total)} vs ${money(cost.test.seed.total)}`],
  ]
}
