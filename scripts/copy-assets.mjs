// tsc compiles only TypeScript; the SQL migrations and Lua scripts the backends read at run time
// must sit next to the compiled files. Copies src/**/*.{sql,lua} into dist/src.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(sql|lua)$/.test(name)) cpSync(path, join('dist', path), { recursive: true });
  }
}
walk('src');
console.log(`copied SQL and Lua assets into dist/src (${relative('.', 'dist/src')})`);
