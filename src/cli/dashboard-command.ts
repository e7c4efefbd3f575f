import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { dashboard } from '../dashboard/dashboard.js';
import { createRouterFromFile } from '../router/router.js';
import { UsageError } from './usage-error.js';

export const DASHBOARD_USAGE = `usage: jobshard dashboard --config <tenant-map.json> [options]

Serves the web dashboard over every shard and tenant of the tenant map, until interrupted.

options:
  --config <file>         the tenant map (JSON, shards as backend specs), as createRouterFromFile reads it
  --port <n>              default 8080 (0: any free port)
  --host <address>        default 127.0.0.1: only this machine can connect
  --tenant <id>           show this tenant only
  --base-path <path>      serve under this path, e.g. /jobs (behind a proxy)
  --refresh-ms <n>        how often pages refresh and reads are shared (default 2000)
  --password-env <VAR>    require HTTP Basic auth with the password held in environment variable VAR
                          (any user name), and allow actions; without it the dashboard is read-only`;

function basicPassword(req: IncomingMessage): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

function samePassword(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given),
    b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `jobshard dashboard …`: argv after 'dashboard'. Resolves with the exit code once the server closes (SIGINT, SIGTERM). */
export async function dashboardCommand(argv: string[], write: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      tenant: { type: 'string' },
      'base-path': { type: 'string' },
      'refresh-ms': { type: 'string' },
      'password-env': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    write(`${DASHBOARD_USAGE}\n`);
    return 0;
  }
  if (positionals.length) throw new UsageError(`dashboard takes no arguments, got '${positionals.join(' ')}'`);
  if (!values.config) throw new UsageError('--config <tenant-map.json> is required');
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!/^\d+$/.test(values.port ?? '8080') || port > 65535) throw new UsageError(`--port must be a port number (0-65535), got '${values.port}'`);
  const refreshMs = values['refresh-ms'] === undefined ? undefined : Number(values['refresh-ms']);
  if (values['refresh-ms'] !== undefined && !/^\d+$/.test(values['refresh-ms']))
    throw new UsageError(`--refresh-ms must be a whole number, got '${values['refresh-ms']}'`);
  let password: string | undefined;
  if (values['password-env'] !== undefined) {
    password = process.env[values['password-env']];
    if (!password) throw new UsageError(`--password-env ${values['password-env']}: that environment variable is empty or unset`);
  }
  const host = values.host ?? '127.0.0.1';

  const router = await createRouterFromFile(values.config);
  try {
    const handler = dashboard(router, {
      ...(values.tenant !== undefined ? { tenant: values.tenant } : {}),
      ...(values['base-path'] !== undefined ? { basePath: values['base-path'] } : {}),
      ...(refreshMs !== undefined ? { refreshMs } : {}),
      // Every request was checked below; whoever got in may act.
      ...(password !== undefined ? { authorize: () => true } : {}),
    });
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (password !== undefined && !samePassword(basicPassword(req), password)) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="jobshard", charset="UTF-8"', 'content-type': 'text/plain' });
        res.end('authentication required\n');
        return;
      }
      handler(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    write(
      `jobshard dashboard on http://${shown}:${address.port}${values['base-path'] ?? ''}/ (${password === undefined ? 'read-only' : 'actions allowed after sign-in'})\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  } finally {
    await router.close();
  }
}
