import { Command } from 'commander'
import { registerApiKey } from './api-key.js'
import { registerBacktest } from './backtest.js'
import { runCommand } from './common.js'
import { registerDemo } from './demo.js'
import { registerDrift } from './drift.js'
import { registerFeatures } from './features.js'
import { registerGenerate } from './generate.js'
import { registerMigrate } from './migrate.js'
import { registerReplay } from './replay.js'
import { registerModels } from './models.js'
import { registerLists } from './lists.js'
import { registerRules } from './rules.js'
import { registerRun } from './run.js'
import { registerSql } from './sql.js'
import { registerTrain } from './train.js'

const program = new Command()
  .name('fraudstream')
  .description(
    'Real-time card-fraud scoring: Kafka in, ONNX on worker threads, decisions out, every score in ClickHouse.',
  )
  .version('0.1.0')
  .showHelpAfterError()
registerDemo(program)
registerRun(program)
registerGenerate(program)
registerTrain(program)
registerModels(program)
registerRules(program)
registerLists(program)
registerFeatures(program)
registerReplay(program)
registerSql(program)
registerDrift(program)
registerBacktest(program)
registerMigrate(program)
registerApiKey(program)
try {
  await program.parseAsync(process.argv)
} catch (err) {
  // An option refused while parsing (parseNumber…), before any command ran: reported as a command's error is, with
  // the --json summary when asked, instead of an uncaught stack.
  await runCommand({ json: process.argv.includes('--json') }, () => Promise.reject(err))
}
