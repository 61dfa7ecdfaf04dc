import { loadLinearPackage } from '../adapters/onnx/linear-package.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { FirstTier } from '../stages/infer/first-tier.js'

/**
 * The first tier `infer.tiers` configures, loaded and checked, or undefined when tiering is off. It is fixed for the
 * job's life: a promotion changes the lineup (tier 2), not the first tier.
 */
export function firstTierOf(
  config: Pick<Config, 'infer' | 'model'>,
  contract: { readonly hash: string; readonly names: readonly string[] },
): FirstTier | undefined {
  const tiers = config.infer.tiers
  if (!tiers) return undefined
  const { pkg, linear } = loadLinearPackage(config.model.dir, tiers.first, contract)
  const { thresholds } = pkg.manifest
  if (tiers.approveBelow > thresholds.review)
    throw new FraudstreamError(
      ErrorCode.configInvalid,
      `infer.tiers.approveBelow (${tiers.approveBelow}) is above ${tiers.first}'s review threshold (${thresholds.review}): tier 1 would approve transactions its own model reviews; lower it`,
      'input',
    )
  if (tiers.declineFrom !== undefined && tiers.declineFrom < thresholds.decline)
    throw new FraudstreamError(
      ErrorCode.configInvalid,
      `infer.tiers.declineFrom (${tiers.declineFrom}) is below ${tiers.first}'s decline threshold (${thresholds.decline}): tier 1 would settle transactions its own model does not decline; raise it`,
      'input',
    )
  return {
    model: { name: pkg.manifest.name, version: pkg.manifest.version },
    linear,
    thresholds,
    approveBelow: tiers.approveBelow,
    declineFrom: tiers.declineFrom ?? Infinity,
  }
}
