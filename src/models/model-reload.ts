import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import { join } from 'node:path'
import type { ModelRegistry } from '../adapters/onnx/model-package.js'
import type { KafkaTableReader } from '../adapters/kafka/table-reader.js'
import { errorMessageOf } from '../core/errors.js'
import type { SourceRecord } from '../core/ports.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { describeLineup, servedModels, type Lineup } from './lineup.js'

/** The key the registry is written under in the models topic (compacted: the latest registry is what stays). */
export const REGISTRY_KEY = 'registry'

export interface LineupTarget {
  readonly lineup: Lineup
  use(lineup: Lineup): Promise<void>
}

export interface ModelReloadOptions {
  readonly target: LineupTarget
  /** Loads and checks a registry's models; throws for a lineup the job must refuse. */
  readonly lineupOf: (registry: ModelRegistry) => Lineup
  readonly metrics: Metrics
  readonly log: Logger
}

/**
 * Applies registry changes to a running job, one at a time and in the order seen. A registry naming a missing model
 * or one on another feature contract is refused whole (logged, `fraudstream_model_reloads_total{result="failed"}`):
 * the job keeps the lineup it has. An unchanged registry is ignored.
 */
export class ModelReload {
  #applied: string
  #queue: Promise<void> = Promise.resolve()

  constructor(
    readonly options: ModelReloadOptions,
    initial: ModelRegistry,
  ) {
    this.#applied = JSON.stringify(servedPart(initial))
    setServed(options.metrics, options.target.lineup)
  }

  /** Resolves once this registry (and every earlier one) is applied or refused. */
  apply(registry: ModelRegistry): Promise<void> {
    this.#queue = this.#queue.then(() => this.#apply(registry))
    return this.#queue
  }

  async #apply(registry: ModelRegistry): Promise<void> {
    const { target, metrics, log } = this.options
    const key = JSON.stringify(servedPart(registry))
    if (key === this.#applied) return
    try {
      const lineup = this.options.lineupOf(registry)
      await target.use(lineup)
      this.#applied = key
      setServed(metrics, lineup)
      metrics.modelReloads.inc({ result: 'ok' })
      log.info({ lineup: describeLineup(lineup) }, 'models switched: the next batches are scored with the new lineup')
    } catch (err) {
      metrics.modelReloads.inc({ result: 'failed' })
      log.error(
        { err, registry, kept: describeLineup(target.lineup) },
        `registry change refused, the job keeps its models: ${errorMessageOf(err)}`,
      )
    }
  }
}

/** Checks `<modelsDir>/registry.json` every `intervalMs` (a stat, not an inotify watch: it works on any disk). */
export function watchRegistryFile(
  modelsDir: string,
  intervalMs: number,
  reload: ModelReload,
  log: Logger,
): { stop(): void } {
  const path = join(modelsDir, 'registry.json')
  const listener = () => {
    let registry: ModelRegistry
    try {
      registry = JSON.parse(readFileSync(path, 'utf8')) as ModelRegistry
    } catch (err) {
      // Written by rename, so a reader never sees half a file; a hand edit may still be broken.
      log.error({ err, path }, `cannot read the model registry; the job keeps its models: ${errorMessageOf(err)}`)
      return
    }
    void reload.apply(registry)
  }
  watchFile(path, { interval: intervalMs, persistent: false }, listener)
  return { stop: () => unwatchFile(path, listener) }
}

/** The registries in a batch of models-topic records, in order; tombstones and other keys are skipped with a word. */
export function registriesIn(records: readonly SourceRecord[], log: Logger): ModelRegistry[] {
  const registries: ModelRegistry[] = []
  for (const record of records) {
    if (record.key?.toString() !== REGISTRY_KEY || record.value === null) {
      log.warn({ partition: record.partition, offset: record.offset }, 'models topic record ignored: not a registry')
      continue
    }
    try {
      registries.push(JSON.parse(record.value.toString()) as ModelRegistry)
    } catch (err) {
      log.error({ err, offset: record.offset }, 'models topic record is not JSON; ignored')
    }
  }
  return registries
}

/** Waits until the reader has read the models topic to the end it had when called; false if `timeoutMs` passed. */
export async function readToEnd(reader: KafkaTableReader, timeoutMs: number): Promise<boolean> {
  const highs = await Promise.all(Array.from({ length: reader.partitions }, (_, p) => reader.highWatermark(p)))
  const deadline = Date.now() + timeoutMs
  while (highs.some((high, p) => reader.position(p) < high)) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

/** Only what decides the lineup: `previous` changes with every promotion but serves nothing. */
function servedPart(registry: ModelRegistry): unknown {
  return [registry.champion, registry.challenger ?? null, registry.shadows]
}

function setServed(metrics: Metrics, lineup: Lineup): void {
  metrics.modelServed.reset()
  for (const model of servedModels(lineup))
    metrics.modelServed.set({ model: model.ref.name, version: model.ref.version, role: model.role }, 1)
}
