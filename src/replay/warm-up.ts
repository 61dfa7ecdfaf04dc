import type { Config } from '../config/schema.js'
import type { FeatureDefinition } from '../stages/features/feature-definition.js'
import { toFeatureRow } from '../stages/features/to-feature-row.js'
import { lookupPlanOf } from '../stages/lookups/lookup-plan.js'

/**
 * How far before --from a replay starts reading so that its state is the stream's by then: the longest history any
 * feature reads (card windows and their delays, lookup windows with their delay and bucket), or the dedupe horizon
 * if longer, plus the allowed lateness, behind which records still enter the windows.
 */
export function warmUpHorizonMs(
  config: Pick<Config, 'windows' | 'dedupe'>,
  features: readonly FeatureDefinition[],
): number {
  const lateness = config.windows.allowedLatenessMs
  const cards = toFeatureRow(features).horizonMs
  const lookups = Math.max(0, ...lookupPlanOf(features, lateness).horizonMs.values())
  return Math.max(cards, lookups, config.dedupe.horizonMs) + lateness
}
