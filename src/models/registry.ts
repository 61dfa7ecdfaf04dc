import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadModelPackage, readRegistry, type ModelManifest, type ModelRegistry } from '../adapters/onnx/model-package.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'

/** One version in `models/`, as `fraudstream models list` shows it. */
export interface ModelEntry {
  readonly ref: string
  readonly kind: string
  readonly createdAt: string
  readonly featureContract: string
  /** Trained on the feature contract the topology computes now: only those can be loaded. */
  readonly currentContract: boolean
  readonly role: 'champion' | 'challenger' | 'shadow' | null
  readonly aucPr: number | null
}

/** Every version of every model under `modelsDir`, newest first within a name. */
export function listModels(modelsDir: string, contractHash: string): ModelEntry[] {
  const registry = existsSync(join(modelsDir, 'registry.json')) ? readRegistry(modelsDir) : undefined
  const entries: ModelEntry[] = []
  for (const name of readdirSync(modelsDir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const versions = readdirSync(join(modelsDir, name.name))
      .filter((v) => /^\d+$/.test(v) && existsSync(join(modelsDir, name.name, v, 'manifest.json')))
      .sort((a, b) => Number(b) - Number(a))
    for (const version of versions) {
      const manifest = JSON.parse(
        readFileSync(join(modelsDir, name.name, version, 'manifest.json'), 'utf8'),
      ) as ModelManifest
      const ref = `${name.name}@${version}`
      entries.push({
        ref,
        kind: manifest.kind,
        createdAt: manifest.created_at,
        featureContract: manifest.feature_contract.hash,
        currentContract: manifest.feature_contract.hash === contractHash,
        role: roleIn(registry, ref),
        aucPr: typeof manifest.metrics['auc_pr'] === 'number' ? manifest.metrics['auc_pr'] : null,
      })
    }
  }
  return entries
}

/**
 * Makes `ref` the champion; the one it replaces is remembered for `rollback`. Refused for a version that is missing
 * or was trained on another feature contract: the job would refuse to load it.
 */
export function promote(modelsDir: string, ref: string, contractHash: string): ModelRegistry {
  const registry = readRegistry(modelsDir)
  loadable(modelsDir, ref, contractHash)
  if (registry.champion === ref) return registry
  const { challenger: _replaced, ...rest } = registry
  return write(modelsDir, {
    ...rest,
    champion: ref,
    shadows: registry.shadows.filter((s) => s !== ref),
    ...withoutChallenger(registry, ref),
    previous: [...(registry.previous ?? []), registry.champion],
  })
}

/** Adds a shadow: it scores every transaction beside the champion and never changes a decision. */
export function addShadow(modelsDir: string, ref: string, contractHash: string): ModelRegistry {
  const registry = readRegistry(modelsDir)
  loadable(modelsDir, ref, contractHash)
  const role = roleIn(registry, ref)
  if (role === 'shadow') return registry
  if (role !== null)
    throw new FraudstreamError(ErrorCode.usage, `${ref} is the ${role}: a model plays one part`, 'input')
  return write(modelsDir, { ...registry, shadows: [...registry.shadows, ref] })
}

export function removeShadow(modelsDir: string, ref: string): ModelRegistry {
  const registry = readRegistry(modelsDir)
  if (!registry.shadows.includes(ref))
    throw new FraudstreamError(
      ErrorCode.usage,
      `${ref} is not a shadow (shadows: ${registry.shadows.join(', ') || 'none'})`,
      'input',
    )
  return write(modelsDir, { ...registry, shadows: registry.shadows.filter((s) => s !== ref) })
}

/** Starts an A/B test: `ref` decides for `percent` % of cards, picked by a stable hash of the card. */
export function setChallenger(modelsDir: string, ref: string, percent: number, contractHash: string): ModelRegistry {
  const registry = readRegistry(modelsDir)
  loadable(modelsDir, ref, contractHash)
  if (!(percent >= 0 && percent <= 100))
    throw new FraudstreamError(ErrorCode.usage, `--percent ${percent}: a share of cards within 0–100`, 'input')
  if (registry.champion === ref)
    throw new FraudstreamError(ErrorCode.usage, `${ref} is the champion: a challenger is another model`, 'input')
  return write(modelsDir, {
    ...registry,
    shadows: registry.shadows.filter((s) => s !== ref),
    challenger: { ref, percent },
  })
}

export function clearChallenger(modelsDir: string): ModelRegistry {
  const registry = readRegistry(modelsDir)
  const { challenger: _ended, ...rest } = registry
  return write(modelsDir, rest)
}

function roleIn(registry: ModelRegistry | undefined, ref: string): ModelEntry['role'] {
  if (registry?.champion === ref) return 'champion'
  if (registry?.challenger?.ref === ref) return 'challenger'
  return registry?.shadows.includes(ref) ? 'shadow' : null
}

function withoutChallenger(registry: ModelRegistry, ref: string): Pick<ModelRegistry, 'challenger'> {
  return registry.challenger && registry.challenger.ref !== ref ? { challenger: registry.challenger } : {}
}

/** Makes the champion before the current one champion again (the current one is not kept as a shadow). */
export function rollback(modelsDir: string, contractHash: string): ModelRegistry {
  const registry = readRegistry(modelsDir)
  const previous = [...(registry.previous ?? [])]
  const back = previous.pop()
  if (back === undefined)
    throw new FraudstreamError(ErrorCode.usage, `${registry.champion} is the first champion: nothing to roll back to`, 'input')
  loadable(modelsDir, back, contractHash)
  const { challenger: _replaced, ...rest } = registry
  return write(modelsDir, {
    ...rest,
    champion: back,
    shadows: registry.shadows.filter((s) => s !== back),
    ...withoutChallenger(registry, back),
    previous,
  })
}

function loadable(modelsDir: string, ref: string, contractHash: string): void {
  const { manifest } = loadModelPackage(modelsDir, ref)
  if (manifest.feature_contract.hash !== contractHash)
    throw new FraudstreamError(
      ErrorCode.modelContract,
      `${ref} was trained on feature contract ${manifest.feature_contract.hash}, not the one the topology computes (${contractHash}): it cannot be loaded`,
      'input',
    )
}

/** Written to a temporary file and renamed: a reader (a starting job, a file watch) never sees half a registry. */
function write(modelsDir: string, registry: ModelRegistry): ModelRegistry {
  const path = join(modelsDir, 'registry.json')
  writeFileSync(`${path}.tmp`, `${JSON.stringify(registry, null, 2)}\n`)
  renameSync(`${path}.tmp`, path)
  return registry
}
