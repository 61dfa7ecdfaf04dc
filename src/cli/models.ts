import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { loadModelPackage, readRegistry, type ModelRegistry } from '../adapters/onnx/model-package.js'
import {
  addShadow,
  clearChallenger,
  listModels,
  promote,
  removeShadow,
  rollback,
  setChallenger,
} from '../models/registry.js'
import { publishRegistry } from '../models/publish-registry.js'
import type { Config } from '../config/schema.js'
import { featureContractHash } from '../stages/features/feature-definition.js'
import { loadCliConfig, parseNumber, renderTable, runCommand, withCommonOptions, type CommonOptions } from './common.js'
import { loadFeatures, withFeaturesOption } from './feature-module.js'

interface ModelsOptions extends CommonOptions {
  readonly modelsDir?: string
  readonly features?: string
}

/**
 * `fraudstream models list | show | promote | rollback | shadow add|remove | challenger set|clear`: the registry in
 * `models/registry.json`. A running job follows it without a restart: embedded, it watches the file; with
 * kafka.brokers set, every change is also written to the compacted models topic that every instance reads.
 */
export function registerModels(program: Command): void {
  const models = program
    .command('models')
    .description('the model registry: list versions, show one, promote a champion, roll back')
  const sub = (name: string, description: string) =>
    withFeaturesOption(
      withCommonOptions(models.command(name).description(description), { logLevel: 'warn' }).option(
        '--models-dir <dir>',
        'model registry directory (default: model.dir from config, ./models)',
      ),
    )
  const context = async (opts: ModelsOptions) => {
    const overrides = {
      ...(opts.modelsDir ? { 'model.dir': opts.modelsDir } : {}),
      ...(opts.features ? { 'features.module': opts.features } : {}),
    }
    const { config } = loadCliConfig(opts, overrides, { logLevel: 'warn' })
    return { config, dir: config.model.dir, contract: featureContractHash(await loadFeatures(config)) }
  }
  const changed = async (opts: ModelsOptions, config: Config, what: string, registry: ModelRegistry) => {
    const topic = config.kafka.brokers.length > 0 ? await publishRegistry(config, registry) : undefined
    const reaches = topic
      ? `written to ${topic}: every running instance switches within a second`
      : 'a running embedded job switches within a second (it watches the file)'
    if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, registry, ...(topic ? { topic } : {}) })}\n`)
    else
      process.stdout.write(
        `${what}: champion ${registry.champion}${registry.challenger ? `, challenger ${registry.challenger.ref} (${registry.challenger.percent} % of cards)` : ''}, shadows ${registry.shadows.join(', ') || 'none'}; ${reaches}\n`,
      )
  }

  sub('list', 'every version under models/, its kind, contract and role').action(async (opts: ModelsOptions) => {
    await runCommand(opts, async () => {
      const { dir, contract } = await context(opts)
      const entries = listModels(dir, contract)
      if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, contract, models: entries })}\n`)
      else
        process.stdout.write(
          `${renderTable(
            ['model', 'kind', 'role', 'auc_pr', 'created', 'contract'],
            entries.map((e) => [
              e.ref,
              e.kind,
              e.role ?? '',
              e.aucPr?.toFixed(4) ?? '',
              e.createdAt.slice(0, 19),
              e.currentContract ? `${e.featureContract} (current)` : `${e.featureContract} (older: not loadable)`,
            ]),
          )}\n`,
        )
    })
  })
  sub('show', 'one version: its manifest, and its card')
    .argument('<model>', 'name@version')
    .action(async (ref: string, opts: ModelsOptions) => {
      await runCommand(opts, async () => {
        const { dir } = await context(opts)
        const pkg = loadModelPackage(dir, ref)
        const cardPath = join(pkg.dir, 'card.md')
        const card = existsSync(cardPath) ? readFileSync(cardPath, 'utf8') : undefined
        if (opts.json)
          process.stdout.write(`${JSON.stringify({ ok: true, dir: pkg.dir, manifest: pkg.manifest, card })}\n`)
        else process.stdout.write(card ?? `${JSON.stringify(pkg.manifest, null, 2)}\n`)
      })
    })
  sub('promote', 'make a version the champion (the one it replaces is kept for rollback)')
    .argument('<model>', 'name@version')
    .action(async (ref: string, opts: ModelsOptions) => {
      await runCommand(opts, async () => {
        const { config, dir, contract } = await context(opts)
        await changed(opts, config, `promoted ${ref}`, promote(dir, ref, contract))
      })
    })
  sub('rollback', 'make the previous champion the champion again').action(async (opts: ModelsOptions) => {
    await runCommand(opts, async () => {
      const { config, dir, contract } = await context(opts)
      const before = readRegistry(dir).champion
      await changed(opts, config, `rolled back from ${before}`, rollback(dir, contract))
    })
  })
  const group = (name: string, description: string) => {
    const command = models.command(name).description(description)
    return (sub: string, subDescription: string) =>
      withFeaturesOption(
        withCommonOptions(command.command(sub).description(subDescription), { logLevel: 'warn' }).option(
          '--models-dir <dir>',
          'model registry directory (default: model.dir from config, ./models)',
        ),
      )
  }
  const shadow = group('shadow', 'models that score every transaction beside the champion, never deciding')
  shadow('add', 'add a shadow: its scores go to ClickHouse (model_role shadow) and to decisions under `shadow`')
    .argument('<model>', 'name@version')
    .action(async (ref: string, opts: ModelsOptions) => {
      await runCommand(opts, async () => {
        const { config, dir, contract } = await context(opts)
        await changed(opts, config, `shadow ${ref} added`, addShadow(dir, ref, contract))
      })
    })
  shadow('remove', 'stop scoring with a shadow')
    .argument('<model>', 'name@version')
    .action(async (ref: string, opts: ModelsOptions) => {
      await runCommand(opts, async () => {
        const { config, dir } = await context(opts)
        await changed(opts, config, `shadow ${ref} removed`, removeShadow(dir, ref))
      })
    })
  const challenger = group('challenger', 'an A/B test: a model that decides for a share of cards')
  challenger('set', 'make a model the challenger for --percent of cards (a stable hash of the card picks them)')
    .argument('<model>', 'name@version')
    .requiredOption(
      '--percent <n>',
      'share of cards the challenger decides for, 0–100',
      parseNumber('--percent', 0, 100),
    )
    .action(async (ref: string, opts: ModelsOptions & { percent: number }) => {
      await runCommand(opts, async () => {
        const { config, dir, contract } = await context(opts)
        await changed(opts, config, `challenger ${ref} set`, setChallenger(dir, ref, opts.percent, contract))
      })
    })
  challenger('clear', 'end the A/B test: the champion decides for every card again').action(
    async (opts: ModelsOptions) => {
      await runCommand(opts, async () => {
        const { config, dir } = await context(opts)
        await changed(opts, config, 'challenger cleared', clearChallenger(dir))
      })
    },
  )
}
