import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'

/** `models/<name>/<version>/manifest.json`: what a model reads and how its scores are cut (DESIGN.md §3). */
export interface ModelManifest {
  readonly name: string
  readonly version: string
  readonly created_at: string
  readonly parent_version: string | null
  readonly kind: string
  readonly feature_contract: {
    readonly hash: string
    readonly names: readonly string[]
    readonly types: readonly string[]
  }
  readonly input: { readonly name: string; readonly shape: readonly (string | number)[] }
  readonly output: { readonly name: string; readonly shape: readonly (string | number)[] }
  readonly thresholds: { readonly review: number; readonly decline: number }
  /** Absent in packages exported before explanations: such a model gives scores only. */
  readonly explanation?: ModelExplanation
  readonly training: Record<string, unknown>
  readonly metrics: Record<string, number>
}

/**
 * The graph's second output: float32 [N, F + 1] in margin (log-odds) space, column j < F feature j's contribution,
 * column F the bias (the expected margin, base score included); a row's columns sum to logit(score).
 * `path`: path contributions of trees (Saabas); `linear`: weight × standardised value of a logistic regression.
 */
export interface ModelExplanation {
  readonly output: string
  readonly method: 'path' | 'linear'
  readonly space: 'margin'
}

export interface ModelRegistry {
  readonly champion: string
  /** Score every transaction beside the champion, logged under role `shadow`; they never change a decision. */
  readonly shadows: readonly string[]
  /** An A/B test: decides for `percent` % of cards (by a stable hash of the card), logged under role `challenger`. */
  readonly challenger?: { readonly ref: string; readonly percent: number }
  /** Earlier champions, oldest first: `fraudstream models rollback` goes back to the last one. */
  readonly previous?: readonly string[]
}

export interface ModelPackage {
  readonly dir: string
  readonly onnxPath: string
  readonly manifest: ModelManifest
}

export function readRegistry(modelsDir: string): ModelRegistry {
  const path = join(modelsDir, 'registry.json')
  if (!existsSync(path))
    throw new FraudstreamError(
      ErrorCode.modelLoad,
      `no model registry at ${path}; run \`fraudstream train\` to create a model`,
      'input',
    )
  return JSON.parse(readFileSync(path, 'utf8')) as ModelRegistry
}

/** `ref` is `name@version`; without it, the registry's champion. */
export function loadModelPackage(modelsDir: string, ref?: string): ModelPackage {
  const chosen = ref ?? readRegistry(modelsDir).champion
  const [name, version] = chosen.split('@')
  if (!name || !version)
    throw new FraudstreamError(ErrorCode.modelLoad, `model reference "${chosen}" must be name@version`, 'input')
  const dir = resolve(modelsDir, name, version)
  const manifestPath = join(dir, 'manifest.json')
  const onnxPath = join(dir, 'model.onnx')
  if (!existsSync(manifestPath) || !existsSync(onnxPath)) {
    throw new FraudstreamError(
      ErrorCode.modelLoad,
      `model ${chosen} is incomplete: ${dir} needs manifest.json and model.onnx`,
      'input',
    )
  }
  return { dir, onnxPath, manifest: JSON.parse(readFileSync(manifestPath, 'utf8')) as ModelManifest }
}

/** A model trained on another feature contract would read columns in the wrong meaning: refuse it. */
export function assertContract(manifest: ModelManifest, expectedHash: string, expectedNames: readonly string[]): void {
  if (manifest.feature_contract.hash !== expectedHash) {
    throw new FraudstreamError(
      ErrorCode.modelContract,
      `model ${manifest.name}@${manifest.version} was trained on feature contract ${manifest.feature_contract.hash}, but the topology computes ${expectedHash} (${expectedNames.length} features); retrain with \`fraudstream train\``,
      'internal',
    )
  }
}
