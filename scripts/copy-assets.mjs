// tsc compiles only TypeScript; the SQL migrations and Lua scripts the backends read at run time
// must sit next to the compiled files, and so must the dashboard's stylesheet and script.
// Copies src/**/*.{sql,lua} and src/**/assets/* into dist/src.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(sql|lua)$/.test(name) || /[\\/]assets$/.test(dir)) cpSync(path, join('dist', path), { recursive: true });
  }
}
walk('src');
console.log(`copied SQL, Lua and dashboard assets into dist/src (${relative('.', 'dist/src')})`);
