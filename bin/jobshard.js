#!/usr/bin/env node
// The jobshard command. Installed from npm it runs the built CLI; in a checkout, the TypeScript source through tsx.
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli/jobshard.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('../src/cli/jobshard.ts', import.meta.url).href);
}
process.exitCode = await cli.main(process.argv.slice(2));
