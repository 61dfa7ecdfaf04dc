import type { Command } from 'commander'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { ListKind } from '../rules/list-entry.js'
import { ListName } from '../rules/rule-v1.js'
import { parseTimeMs, renderTable, runCommand } from './common.js'
import { withAdmin, withAdminOptions, type AdminCliOptions } from './rules-admin-cli.js'

interface ListsCliOptions extends AdminCliOptions {
  readonly list?: string
  readonly expires?: number
  readonly reason?: string
  readonly kind?: string
}

/**
 * `fraudstream lists add <kind> <value> | remove <kind> <value> | show`: the allow, block and watch lists in the
 * compacted lists topic, which every running instance follows within a second.
 */
export function registerLists(program: Command): void {
  const lists = program
    .command('lists')
    .description(`allow, block and watch lists of ${ListKind.join(', ')}, changed at runtime, with optional expiry`)
  const sub = (name: string, description: string) => withAdminOptions(lists.command(name).description(description))
  const listOption = (command: Command, fallback?: string) =>
    command.option(
      '--list <list>',
      `${ListName.join(' | ')}: block declines and allow approves before the model; watch only adds a reason${fallback ? ` (default ${fallback})` : ''}`,
      parseChoice('--list', ListName),
      fallback,
    )

  listOption(sub('add', 'put a value on a list (replacing its entry there)'), 'block')
    .argument('<kind>', ListKind.join(' | '))
    .argument('<value>', 'the card_id, terminal_id, merchant_id, device_id, ip or country to match')
    .option(
      '--expires <time>',
      'when the entry stops matching: ISO-8601, epoch ms, or a duration from now (30m, 12h, 7d)',
      (v: string) => parseExpiry(v),
    )
    .option('--reason <text>', 'why it is listed, for analysts (decisions carry the reason code list:<list>:<kind>)')
    .action(async (kind: string, value: string, opts: ListsCliOptions) => {
      await runCommand(opts, async () => {
        const result = await withAdmin(opts, async (admin) => ({
          entry: await admin.addEntry({
            list: opts.list,
            kind,
            value,
            ...(opts.expires !== undefined ? { expires_at: new Date(opts.expires).toISOString() } : {}),
            ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
          }),
          topic: admin.topics.lists,
        }))
        if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`)
        else
          process.stdout.write(
            `${kind} ${value} is on the ${result.entry.list} list${result.entry.expires_at ? ` until ${result.entry.expires_at}` : ''} (${result.topic}): running instances apply it within a second\n`,
          )
      })
    })

  listOption(sub('remove', 'take a value off a list (off every list holding it without --list)'))
    .argument('<kind>', ListKind.join(' | '))
    .argument('<value>', 'the value to remove')
    .action(async (kind: string, value: string, opts: ListsCliOptions) => {
      await runCommand(opts, async () => {
        const removed = await withAdmin(opts, (admin) => admin.removeEntry(kind, value, opts.list))
        if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, removed })}\n`)
        else process.stdout.write(`removed ${removed.join(', ')}: running instances apply it within a second\n`)
      })
    })

  listOption(sub('show', 'the entries held, expired ones marked'))
    .option('--kind <kind>', ListKind.join(' | '), parseChoice('--kind', ListKind))
    .action(async (opts: ListsCliOptions) => {
      await runCommand(opts, async () => {
        const nowMs = Date.now()
        const entries = (await withAdmin(opts, (admin) => admin.listEntries()))
          .filter(
            (e) =>
              (opts.list === undefined || e.list === opts.list) && (opts.kind === undefined || e.kind === opts.kind),
          )
          .sort((a, b) => (a.list + a.kind + a.value < b.list + b.kind + b.value ? -1 : 1))
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ok: true, entries })}\n`)
          return
        }
        process.stdout.write(
          `${renderTable(
            ['list', 'kind', 'value', 'expires', 'reason', 'added'],
            entries.map((e) => [
              e.list,
              e.kind,
              e.value,
              e.expires_at === undefined
                ? ''
                : `${e.expires_at}${Date.parse(e.expires_at) <= nowMs ? ' (expired)' : ''}`,
              e.reason ?? '',
              e.added_at ?? '',
            ]),
          )}\n${entries.length} entries\n`,
        )
      })
    })
}

function parseChoice(name: string, choices: readonly string[]) {
  return (value: string): string => {
    if (choices.includes(value)) return value
    throw new FraudstreamError(ErrorCode.usage, `${name} must be one of ${choices.join(', ')}, got "${value}"`, 'input')
  }
}

const DURATION_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** --expires: a time, or a duration from now (`30m`, `12h`, `7d`). */
export function parseExpiry(value: string, nowMs = Date.now()): number {
  const duration = /^(\d+)([mhd])$/.exec(value.trim())
  if (duration) return nowMs + Number(duration[1]) * DURATION_MS[duration[2] as keyof typeof DURATION_MS]
  const ms = parseTimeMs(value)
  if (ms === undefined)
    throw new FraudstreamError(
      ErrorCode.usage,
      `--expires must be an ISO-8601 time, epoch ms, or a duration such as 30m, 12h or 7d, got "${value}"`,
      'input',
    )
  return ms
}
