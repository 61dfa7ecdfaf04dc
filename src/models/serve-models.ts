import { readRegistry, type ModelRegistry } from '../adapters/onnx/model-package.js'
import { OnnxScorer } from '../adapters/onnx/onnx-scorer.js'
import { KafkaTableReader, RARELY_CHANGING_FETCH_WAIT_MS } from '../adapters/kafka/table-reader.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../core/errors.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { describeLineup, lineupOf, type Lineup } from './lineup.js'
import { ModelReload, readToEnd, registriesIn, watchRegistryFile } from './model-reload.js'

export interface ServedModels {
  readonly scorer: OnnxScorer
  /** How promotions reach this job: `off` when it serves a fixed champion (model.champion) or reload is off. */
  readonly reload: 'file' | 'topic' | 'off'
  readonly lineup: Lineup
  /** Applies a registry now, as a file change or a models-topic record would. */
  apply(registry: ModelRegistry): Promise<void>
}

export interface ServeModelsOptions {
  readonly config: Config
  readonly contract: { readonly hash: string; readonly names: readonly string[] }
  /** The models topic and a client config to read it, for topic reload. */
  readonly modelsTopic: { readonly topic: string; readonly clientConfig: Record<string, string | number | boolean> }
  readonly metrics: Metrics
  readonly log: Logger
  readonly closers: (() => Promise<void>)[]
}

/**
 * The scorer and how it follows the registry. With topic reload, the models topic is read to its end before the
 * first batch, so a job that starts after a promotion starts with the promoted champion, as every other instance has.
 */
export async function serveModels(options: ServeModelsOptions): Promise<ServedModels> {
  const { config, metrics, closers } = options
  const log = options.log.child({ component: 'models' })
  let reload: ServedModels['reload'] = config.model.champion
    ? 'off'
    : config.model.reload === 'auto'
      ? config.kafka.brokers.length > 0
        ? 'topic'
        : 'file'
      : config.model.reload
  const lineupOptions = { modelsDir: config.model.dir, contract: options.contract, thresholds: config.thresholds }
  let registry: ModelRegistry = config.model.champion
    ? { champion: config.model.champion, shadows: [] }
    : readRegistry(config.model.dir)

  let latest: ModelRegistry | undefined
  let onRegistry = (r: ModelRegistry) => void (latest = r)
  let reader: KafkaTableReader | undefined
  if (reload === 'topic') {
    reader = new KafkaTableReader({
      clientConfig: options.modelsTopic.clientConfig,
      topic: options.modelsTopic.topic,
      log,
      fetchWaitMaxMs: RARELY_CHANGING_FETCH_WAIT_MS,
    })
    try {
      await reader.start((records) => {
        for (const r of registriesIn(records, log)) onRegistry(r)
      })
      closers.push(() => reader!.stop())
      if (!(await readToEnd(reader, 10_000)))
        log.warn({ topic: options.modelsTopic.topic }, 'models topic not read to its end in 10 s; starting with what was read')
    } catch (err) {
      if (!(err instanceof FraudstreamError && err.code === ErrorCode.kafkaTopicMissing)) throw err
      // Without the topic, this instance still follows its own registry file; promotions reach others only by theirs.
      await reader.stop()
      reader = undefined
      reload = 'file'
      log.warn(
        { topic: options.modelsTopic.topic },
        `models topic ${options.modelsTopic.topic} does not exist: create it (compacted, 1 partition) so that every instance follows a promotion; until then this one watches ${config.model.dir}/registry.json`,
      )
    }
  }

  let lineup: Lineup
  try {
    lineup = lineupOf(latest ?? registry, lineupOptions)
    registry = latest ?? registry
  } catch (err) {
    if (!latest) throw err
    // The topic may name a model this instance does not have yet: start with the file's registry, loudly.
    metrics.modelReloads.inc({ result: 'failed' })
    log.error(
      { err, registry: latest, file: registry },
      `the models topic's registry cannot be served here; starting with ${config.model.dir}/registry.json: ${errorMessageOf(err)}`,
    )
    lineup = lineupOf(registry, lineupOptions)
    // Refused once: only a registry that arrives after this one is applied below.
    latest = undefined
  }
  const scorer = new OnnxScorer(lineup, { threads: config.infer.threads, explainTopK: config.infer.explainTopK })
  closers.push(() => scorer.close())
  await scorer.ready
  const reloader = new ModelReload(
    { target: scorer, lineupOf: (r) => lineupOf(r, lineupOptions), metrics, log },
    registry,
  )
  if (reload === 'topic') onRegistry = (r) => void reloader.apply(r)
  // A registry read while the scorer started is applied now, in order.
  if (reload === 'topic' && latest && latest !== registry) void reloader.apply(latest)
  if (reload === 'file') {
    const watch = watchRegistryFile(config.model.dir, config.model.reloadIntervalMs, reloader, log)
    closers.push(async () => watch.stop())
  }
  log.info({ lineup: describeLineup(lineup), reload }, 'models loaded')
  return {
    scorer,
    reload,
    get lineup() {
      return scorer.lineup
    },
    apply: (r) => reloader.apply(r),
  }
}
