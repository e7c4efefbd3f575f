// Every mount in docs/dashboard.md runs as written: it serves the dashboard, and refuses a POST.
import test from 'ava';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnGuarded } from '../helpers/child.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const page = await readFile(join(root, 'docs/dashboard.md'), 'utf8');
const blocks = [...page.matchAll(/^### (.+)\n\n```ts\n([\s\S]*?)```/gm)].map((m) => ({ title: m[1]!, code: m[2]! }));
// Inside the checkout, so that 'express', 'fastify' and 'hono' resolve from its node_modules.
const dir = join(root, 'node_modules', '.cache', 'jobshard-docs');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test('the page shows the four mounts', (t) => {
  t.deepEqual(
    blocks.map((b) => b.title),
    ['node:http', 'Express', 'Fastify', 'Hono (on Node, with @hono/node-server)'],
  );
});

for (const [i, { title, code }] of blocks.entries()) {
  test(`docs/dashboard.md: the ${title} mount serves the dashboard`, async (t) => {
    await mkdir(dir, { recursive: true });
    const file = join(dir, `mount-${i + 1}.mts`);
    await writeFile(file, code.replaceAll("from 'jobshard'", `from '${join(root, 'src/index.ts')}'`));
    const port = await freePort();
    const child = spawnGuarded(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const base = `http://127.0.0.1:${port}${code.includes("basePath: '/jobs'") ? '/jobs' : ''}`;
    try {
      let res: Response | undefined;
      for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
        res = await fetch(`${base}/`).catch(() => undefined);
        if (res) break;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      t.truthy(res, output);
      t.is(res!.status, 200, output);
      const html = await res!.text();
      t.regex(html, /<h1>Overview<\/h1>/);
      t.regex(html, new RegExp(`href="${base.replace(/^http:\/\/[^/]+/, '')}/tenants"`), 'links carry the mount path');
      t.is((await fetch(`${base}/assets/dashboard.js`)).status, 200);
      // A form POST reaches the dashboard through the framework, body unread: refused for want of a token (or of authorize).
      const post = await fetch(`${base}/tenants/acme/pause`, {
        method: 'POST',
        body: new URLSearchParams({ queue: 'x' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      t.is(post.status, 403, output);
      t.regex(await post.text(), /read-only|CSRF token/);
    } finally {
      child.kill('SIGTERM');
    }
  });
}
