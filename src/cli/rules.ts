import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { createClickhouseClient } from '../adapters/clickhouse/client.js'
import { ruleHistoryDays } from '../adapters/clickhouse/rule-history.js'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../core/errors.js'
import { ListIndex } from '../rules/list-index.js'
import { compileForBacktest, readsLists, RuleBacktestAccumulator, type RuleBacktest } from '../rules/rule-backtest.js'
import { parseRules, type Condition, type RuleV1 } from '../rules/rule-v1.js'
import { formatInt, loadCliConfig, parseTimeOption, renderTable, runCommand } from './common.js'
import { loadFeatures } from './feature-module.js'
import { withAdmin, withAdminOptions, type AdminCliOptions } from './rules-admin-cli.js'

/**
 * `fraudstream rules list | put <file> | delete <id> | test <file> --from --to`: the decision rules in the compacted
 * rules topic, which every running instance follows within a second (README "Rules and lists").
 */
export function registerRules(program: Command): void {
  const rules = program
    .command('rules')
    .description('decision rules changed at runtime: list, put, delete, and backtest one over ClickHouse history')
  const sub = (name: string, description: string) => withAdminOptions(rules.command(name).description(description))

  sub('list', 'the rules every instance runs, in priority order, and the rule-set version').action(
    async (opts: AdminCliOptions) => {
      await runCommand(opts, async () => {
        const snapshot = await withAdmin(opts, (admin) => admin.snapshot())
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ok: true, ...snapshot, entries: snapshot.entries.length })}\n`)
          return
        }
        process.stdout.write(
          `${renderTable(
            ['priority', 'id', 'stage', 'enabled', 'when', 'then'],
            snapshot.rules.map((r) => [
              r.priority,
              r.id,
              r.stage,
              r.enabled ? 'yes' : 'no',
              describeCondition(r.when),
              describeAction(r),
            ]),
          )}\nversion ${snapshot.version}: ${snapshot.rules.length} rules, ${snapshot.entries.length} list entries\n`,
        )
        for (const r of snapshot.refused)
          process.stdout.write(`refused by instances (${r.topic} ${r.key}): ${r.message}\n`)
      })
    },
  )

  sub('put', 'validate the rules of a YAML/JSON file and write them; every instance applies them within a second')
    .argument('<file>', 'one rule, a list of rules, or { rules: [...] } (see examples/rules/)')
    .action(async (file: string, opts: AdminCliOptions) => {
      await runCommand(opts, async () => {
        const parsed = parseRules(readText(file), file)
        const put = await withAdmin(opts, async (admin) => {
          const done: RuleV1[] = []
          // Every rule is compiled before the first is written: a file with one bad rule changes nothing.
          for (const rule of parsed) await admin.checkRule(rule)
          for (const rule of parsed) done.push(await admin.putRule(rule))
          return { rules: done, topic: admin.topics.rules }
        })
        if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, ...put })}\n`)
        else
          process.stdout.write(
            `put ${put.rules.map((r) => `${r.id} (${r.stage}, priority ${r.priority})`).join(', ')} to ${put.topic}: running instances apply it within a second\n`,
          )
      })
    })

  sub('delete', 'remove a rule; every instance stops running it within a second')
    .argument('<id>', 'the rule id')
    .action(async (id: string, opts: AdminCliOptions) => {
      await runCommand(opts, async () => {
        const topic = await withAdmin(opts, async (admin) => {
          await admin.deleteRule(id)
          return admin.topics.rules
        })
        if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, deleted: id, topic })}\n`)
        else process.stdout.write(`deleted ${id} from ${topic}: running instances drop it within a second\n`)
      })
    })

  sub('test', 'backtest the rules of a file over ClickHouse scores history, before they go live')
    .argument('<file>', 'the rules to test (the same file `rules put` takes)')
    .requiredOption(
      '--from <time>',
      'first event time, ISO-8601 (UTC unless a zone is given) or epoch ms',
      parseTimeOption('--from'),
    )
    .requiredOption('--to <time>', 'end event time (exclusive)', parseTimeOption('--to'))
    .option('--run-id <id>', 'whose scores: live, or a replay run id', 'live')
    .option('--labels-run-id <id>', 'whose labels', 'live')
    .addHelpText(
      'after',
      `
Reads the deciding scores rows of the range a day at a time and runs each rule's compiled condition on them (the
code the stream runs), with the features as logged. Per day: transactions, hits, cards hit, fraud among the hits
(the latest label; a transaction without one counts as legitimate, so recent days read low until chargebacks
arrive), precision, the fraud amount caught, and how many recorded decisions the rule's decision would change.
Fields scores does not keep (entry_mode, device_id, ip) cannot be tested; in_list reads the lists held now.
  fraudstream rules test examples/rules/high-amount-abroad.yaml --from 2026-01-01 --to 2026-01-08`,
    )
    .action(
      async (
        file: string,
        opts: AdminCliOptions & { from: number; to: number; runId: string; labelsRunId: string },
      ) => {
        await runCommand(opts, async () => {
          if (!(opts.to > opts.from)) throw new FraudstreamError(ErrorCode.usage, '--to must be after --from', 'input')
          const parsed = parseRules(readText(file), file)
          const { config } = loadCliConfig(opts, opts.features ? { 'features.module': opts.features } : {}, {
            logLevel: 'warn',
          })
          const featureNames = (await loadFeatures(config)).map((f) => f.name)
          const lists = new ListIndex()
          if (parsed.some(readsLists))
            for (const entry of await withAdmin(opts, (admin) => admin.listEntries())) lists.put(entry)
          const accumulators = parsed.map(
            (rule) => new RuleBacktestAccumulator(compileForBacktest(rule, featureNames, lists)),
          )
          const client = await createClickhouseClient(config)
          try {
            for await (const { day, rows } of ruleHistoryDays(client, {
              runId: opts.runId,
              labelsRunId: opts.labelsRunId,
              fromMs: opts.from,
              toMs: opts.to,
              featureNames,
            }))
              for (const a of accumulators) a.addDay(day, rows)
          } catch (err) {
            throw new FraudstreamError(
              ErrorCode.sinkClickhouse,
              `rules test could not read scores: ${errorMessageOf(err)} (run fraudstream migrate on an older data dir)`,
              'external',
              false,
              { cause: err },
            )
          } finally {
            await client.close()
          }
          const results = accumulators.map((a) => a.result())
          if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, results })}\n`)
          else for (const r of results) process.stdout.write(formatBacktest(r))
        })
      },
    )
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new FraudstreamError(ErrorCode.usage, `cannot read ${file}: ${errorMessageOf(err)}`, 'input', false, {
      cause: err,
    })
  }
}

function formatBacktest(result: RuleBacktest): string {
  const pct = (p: number | null) => (p === null ? '–' : `${(p * 100).toFixed(1)} %`)
  const row = (day: string, d: RuleBacktest['total']) => [
    day,
    formatInt(d.transactions),
    formatInt(d.hits),
    formatInt(d.cards),
    formatInt(d.fraudHits),
    pct(d.precision),
    d.fraudAmountCaught.toFixed(2),
    formatInt(d.changed),
  ]
  return `rule ${result.rule}\n${renderTable(
    ['day', 'transactions', 'hits', 'cards', 'fraud hits', 'precision', 'fraud amount caught', 'decisions changed'],
    [...result.days.map((d) => row(d.day, d)), row('total', result.total)],
  )}\n\n`
}

/** A condition on one line, for `rules list`. */
export function describeCondition(c: Condition): string {
  if ('all' in c) return c.all.map(describeCondition).join(' and ')
  if ('any' in c) return `(${c.any.map(describeCondition).join(' or ')})`
  if ('not' in c) return `not (${describeCondition(c.not)})`
  if ('op' in c) return `${c.field} ${c.op} ${JSON.stringify(c.value)}`
  if ('in_list' in c) return `${c.field} in list ${c.in_list}`
  if ('in' in c) return `${c.field} in [${c.in.join(', ')}]`
  return `${c.field} not in [${c.not_in.join(', ')}]`
}

function describeAction(rule: RuleV1): string {
  const { decision, reason, band } = rule.then
  return [decision, band ? `${band} band` : undefined, reason ? `reason ${reason}` : undefined]
    .filter(Boolean)
    .join(', ')
}
