import { isJobshardError } from '../storage/errors.js';
import { DASHBOARD_USAGE, dashboardCommand } from './dashboard-command.js';
import { PLACEMENT_USAGE, placementCommand } from './placement-command.js';
import { UsageError } from './usage-error.js';

const USAGE = `usage: jobshard <placement|dashboard> … (--help for each)

${PLACEMENT_USAGE}

${DASHBOARD_USAGE}`;

const COMMANDS: Record<string, { usage: string; run: (argv: string[], write: (s: string) => void) => Promise<number> }> = {
  placement: { usage: PLACEMENT_USAGE, run: placementCommand },
  dashboard: { usage: DASHBOARD_USAGE, run: dashboardCommand },
};

export async function main(argv: string[], write: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const [group, ...rest] = argv;
  if (group === undefined || group === '--help' || group === '-h') {
    write(`${USAGE}\n`);
    return group === undefined ? 2 : 0;
  }
  const command = COMMANDS[group];
  if (!command) {
    process.stderr.write(`error: unknown command '${group}'\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await command.run(rest, write);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(err as Error).message}\n\n${command.usage}\n`);
      return 2;
    }
    if (isJobshardError(err)) {
      process.stderr.write(`error (${err.code}): ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
