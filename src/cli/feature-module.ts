import { validateDerived } from '../stages/features/derived-features.js'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Command } from 'commander'
import { cardFraudFeatures } from '../../topology/features.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { validateFeature, type FeatureDefinition } from '../stages/features/feature-definition.js'

/** --features <module>, for the commands that compute features (run, demo, features). */
export function withFeaturesOption(command: Command): Command {
  return command.option(
    '--features <module>',
    'a module exporting `features` (FeatureDefinition[]) to compute instead of topology/features.ts; config features.module',
  )
}

/**
 * The feature set of a configuration: topology/features.ts, or the module `features.module` names. A module's list
 * is checked as the package's own is (kinds, unique names, spans), so a typo fails at start with its name.
 */
export async function loadFeatures(config: Pick<Config, 'features'>): Promise<readonly FeatureDefinition[]> {
  const path = config.features.module
  if (!path) return cardFraudFeatures
  let loaded: { features?: unknown; default?: unknown }
  try {
    loaded = (await import(pathToFileURL(resolve(path)).href)) as { features?: unknown; default?: unknown }
  } catch (err) {
    throw new FraudstreamError(
      ErrorCode.configInvalid,
      `features.module ${path} cannot be loaded: ${err instanceof Error ? err.message : String(err)}`,
      'input',
      false,
      { cause: err },
    )
  }
  const features = loaded.features ?? loaded.default
  if (!Array.isArray(features) || features.length === 0)
    throw new FraudstreamError(
      ErrorCode.configInvalid,
      `features.module ${path} must export \`features\` (or a default export): a non-empty array of feature definitions`,
      'input',
    )
  const names = new Set<string>()
  for (const f of features as FeatureDefinition[]) {
    if (
      typeof f !== 'object' ||
      f === null ||
      !['derived', 'window', 'lookup'].includes(f.kind) ||
      typeof f.name !== 'string'
    ) {
      throw new FraudstreamError(
        ErrorCode.configInvalid,
        `features.module ${path}: ${JSON.stringify(f)} is not a feature definition (kind derived, window or lookup, with a name)`,
        'input',
      )
    }
    if (names.has(f.name))
      throw new FraudstreamError(
        ErrorCode.configInvalid,
        `features.module ${path}: the feature name ${f.name} is used twice`,
        'input',
      )
    names.add(f.name)
    if (f.kind === 'derived') validateDerived(f)
    else validateFeature(f)
  }
  return features as FeatureDefinition[]
}
