import { assertContract, loadModelPackage, type ModelPackage, type ModelRegistry } from '../adapters/onnx/model-package.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { ModelRole } from '../core/ports.js'
import type { ModelRef } from '../core/records.js'

/** A model as the job serves it: its package, its part in scoring and the cut-offs its decisions use. */
export interface ServedModel {
  readonly pkg: ModelPackage
  readonly ref: ModelRef
  readonly role: ModelRole
  readonly thresholds: { readonly review: number; readonly decline: number }
}

/** The models one batch is scored with, as the registry named them when the lineup was read. */
export interface Lineup {
  readonly champion: ServedModel
  readonly challenger?: ServedModel & { readonly percent: number }
  readonly shadows: readonly ServedModel[]
}

export interface LineupOptions {
  readonly modelsDir: string
  /** The feature contract the topology computes: every model must have been trained on it. */
  readonly contract: { readonly hash: string; readonly names: readonly string[] }
  /** Cut-offs for a model whose manifest has none. */
  readonly thresholds: { readonly review: number; readonly decline: number }
}

/**
 * The registry's champion, challenger and shadows, loaded and checked: any model on another feature contract, missing
 * or named twice refuses the whole lineup, so a bad promotion never half-applies.
 */
export function lineupOf(registry: ModelRegistry, options: LineupOptions): Lineup {
  const served = (ref: string, role: ModelRole): ServedModel => {
    const pkg = loadModelPackage(options.modelsDir, ref)
    assertContract(pkg.manifest, options.contract.hash, options.contract.names)
    return {
      pkg,
      ref: { name: pkg.manifest.name, version: pkg.manifest.version },
      role,
      thresholds: pkg.manifest.thresholds ?? options.thresholds,
    }
  }
  const refs = [registry.champion, ...(registry.challenger ? [registry.challenger.ref] : []), ...registry.shadows]
  const twice = refs.find((ref, i) => refs.indexOf(ref) !== i)
  if (twice !== undefined)
    throw new FraudstreamError(
      ErrorCode.modelLoad,
      `${twice} has two roles in the registry (champion, challenger, shadows): a model plays one part`,
      'input',
    )
  const { challenger } = registry
  if (challenger && !(challenger.percent >= 0 && challenger.percent <= 100))
    throw new FraudstreamError(
      ErrorCode.modelLoad,
      `challenger ${challenger.ref} has percent ${challenger.percent}: it must be within 0–100`,
      'input',
    )
  return {
    champion: served(registry.champion, 'champion'),
    ...(challenger ? { challenger: { ...served(challenger.ref, 'challenger'), percent: challenger.percent } } : {}),
    shadows: registry.shadows.map((ref) => served(ref, 'shadow')),
  }
}

/** The lineup's models in the order batches are scored: champion, challenger, shadows. */
export function servedModels(lineup: Lineup): ServedModel[] {
  return [lineup.champion, ...(lineup.challenger ? [lineup.challenger] : []), ...lineup.shadows]
}

/** name@version of every model of a lineup, by role: what logs and `models list` say. */
export function describeLineup(lineup: Lineup): string {
  const ref = (m: ServedModel) => `${m.ref.name}@${m.ref.version}`
  return [
    `champion ${ref(lineup.champion)}`,
    ...(lineup.challenger ? [`challenger ${ref(lineup.challenger)} (${lineup.challenger.percent} % of cards)`] : []),
    ...lineup.shadows.map((s) => `shadow ${ref(s)}`),
  ].join(', ')
}
