import { parseArgs } from 'node:util'

type StringOption = { type: 'string'; default?: string }
type BooleanOption = { type: 'boolean'; default?: boolean }
type Values<O extends Record<string, StringOption | BooleanOption>> = {
  [K in keyof O]: O[K] extends { type: 'boolean' }
    ? boolean
    : O[K] extends { default: string }
      ? string
      : string | undefined
}

/**
 * A benchmark's options, with --seed, --json and --help added: --help prints the usage and exits, as every command
 * of the CLI does.
 */
export function benchmarkArgs<O extends Record<string, StringOption | BooleanOption>>(
  usage: string,
  options: O,
  defaultSeed = '1',
): Values<O> & { seed: string; json: boolean } {
  const all: Record<string, StringOption | BooleanOption> = {
    ...options,
    seed: { type: 'string', default: defaultSeed },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  }
  const { values } = parseArgs({ options: all })
  if (values['help']) {
    process.stdout.write(`${usage}\n`)
    process.exit(0)
  }
  return values as unknown as Values<O> & { seed: string; json: boolean }
}
