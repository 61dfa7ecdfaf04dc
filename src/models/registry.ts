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
  readonly role: 'champion' | 'shadow' | null
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
        role: registry?.champion === ref ? 'champion' : registry?.shadows.includes(ref) ? 'shadow' : null,
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
  return write(modelsDir, {
    champion: ref,
    shadows: registry.shadows.filter((s) => s !== ref),
    previous: [...(registry.previous ?? []), registry.champion],
  })
}

/** Makes the champion before the current one champion again (the current one is not kept as a shadow). */
export function rollback(modelsDir: string, contractHash: string): ModelRegistry {
  const registry = readRegistry(modelsDir)
  const previous = [...(registry.previous ?? [])]
  const back = previous.pop()
  if (back === undefined)
    throw new FraudstreamError(ErrorCode.usage, `${registry.champion} is the first champion: nothing to roll back to`, 'input')
  loadable(modelsDir, back, contractHash)
  return write(modelsDir, { champion: back, shadows: registry.shadows.filter((s) => s !== back), previous })
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
