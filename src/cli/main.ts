import { Command } from 'commander'
import { registerDemo } from './demo.js'
import { registerFeatures } from './features.js'
import { registerGenerate } from './generate.js'
import { registerMigrate } from './migrate.js'
import { registerRun } from './run.js'
import { registerSql } from './sql.js'
import { registerTrain } from './train.js'

const program = new Command()
  .name('fraudstream')
  .description('Real-time card-fraud scoring: Kafka in, ONNX on worker threads, decisions out, every score in ClickHouse.')
  .version('0.1.0')
  .showHelpAfterError()
registerDemo(program)
registerRun(program)
registerGenerate(program)
registerTrain(program)
registerFeatures(program)
registerSql(program)
registerMigrate(program)
await program.parseAsync(process.argv)
