import { AlertSeverity, Decision, type AlertV1, type DecisionV1 } from '../../core/records.js'
import type { Transaction } from '../../core/transaction-v1.js'

export interface AlertPolicy {
  /** A decline scoring at least this is critical: it alerts at once whatever the immediate-alert rate. */
  readonly criticalScore: number
}

/**
 * The alert a decision raises, if any: a decline is critical from `criticalScore` and high below it, a review is low,
 * an approval raises none (severities and where each goes: AlertSeverity).
 */
export function alertOf(decision: DecisionV1, tx: Transaction, policy: AlertPolicy): AlertV1 | undefined {
  const severity =
    decision.decision === Decision.decline
      ? decision.score >= policy.criticalScore
        ? AlertSeverity.critical
        : AlertSeverity.high
      : decision.decision === Decision.review
        ? AlertSeverity.low
        : undefined
  if (severity === undefined) return undefined
  return {
    ...decision,
    severity,
    amount: tx.amount,
    currency: tx.currency,
    merchant_id: tx.merchant_id,
    terminal_id: tx.terminal_id,
    country: tx.country,
  }
}
