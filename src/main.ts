#!/usr/bin/env node
// Entry point: `render` compiles manifests offline; the controller (`run`) is wired here as it lands.
import { runRender } from './cli/render.js';

const USAGE = `usage: nats-rooms-operator <command>

commands:
  render   compile Room and Member manifests offline and print the NATS config and verdicts
`;

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  switch (command) {
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

process.exitCode = main(process.argv.slice(2));
