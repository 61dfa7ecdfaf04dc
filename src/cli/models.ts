import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { loadModelPackage, readRegistry, type ModelRegistry } from '../adapters/onnx/model-package.js'
import { listModels, promote, rollback } from '../models/registry.js'
import { featureContractHash } from '../stages/features/feature-definition.js'
import { loadCliConfig, renderTable, runCommand, withCommonOptions, type CommonOptions } from './common.js'
import { loadFeatures, withFeaturesOption } from './feature-module.js'

interface ModelsOptions extends CommonOptions {
  readonly modelsDir?: string
  readonly features?: string
}

/**
 * `fraudstream models list | show | promote | rollback`: the registry in
 * `models/registry.json`. A running job reads it at start: restart it to switch champion or shadows.
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
    return { dir: config.model.dir, contract: featureContractHash(await loadFeatures(config)) }
  }
  const changed = (opts: ModelsOptions, what: string, registry: ModelRegistry) => {
    if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, registry })}\n`)
    else
      process.stdout.write(
        `${what}: champion ${registry.champion}, shadows ${registry.shadows.join(', ') || 'none'} (a running job switches when restarted)\n`,
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
        const { dir, contract } = await context(opts)
        changed(opts, `promoted ${ref}`, promote(dir, ref, contract))
      })
    })
  sub('rollback', 'make the previous champion the champion again').action(async (opts: ModelsOptions) => {
    await runCommand(opts, async () => {
      const { dir, contract } = await context(opts)
      const before = readRegistry(dir).champion
      changed(opts, `rolled back from ${before}`, rollback(dir, contract))
    })
  })
}
