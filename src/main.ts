#!/usr/bin/env node
// Entry point: `run` starts the operator; `render` compiles manifests offline.
import { hostname } from 'node:os';
import { loadKubeAccess } from './kube/config.js';
import { runRender } from './cli/render.js';
import { loadConfig, usage as runUsage } from './config.js';
import { createLogger } from './log.js';
import { tuneHeapGrowth } from './heap.js';
import { startOperator } from './operator.js';

const USAGE = `usage: nats-rooms-operator <command>

commands:
  run      run the operator (in a cluster, or against the current kubeconfig context)
  render   compile Room and Member manifests offline and print the NATS config and verdicts

Run a command with --help for its options.
`;

async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(runUsage());
    return 0;
  }
  let config;
  try {
    config = loadConfig(argv, process.env, hostname());
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${runUsage()}`);
    return 2;
  }
  tuneHeapGrowth();
  const log = createLogger(config.logLevel);
  const operator = await startOperator(config, loadKubeAccess(), log, {
    onLostLeadership: () => {
      log.error('lost leadership; exiting so that a restart starts clean');
      process.exit(1);
    },
  });
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info('shutting down', { signal });
      resolve();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  await operator.stop();
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return run(rest);
    case 'render':
      return runRender(rest);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'fatal', error: e.message })}\n`);
    process.exitCode = 1;
  },
);
