// Lint: eslint's and typescript-eslint's recommended rules; formatting is prettier's (eslint-config-prettier
// turns off the rules that would fight it). `npm run lint` runs both checks; `npm run format` rewrites.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'docs/api/', 'node_modules/', 'bin/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // `_` marks what is deliberately unused (a destructured rest, a required parameter).
      // A variable a closure reads before its one assignment cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // The dashboard's one script runs in the browser.
  { files: ['src/dashboard/assets/**/*.js'], languageOptions: { globals: globals.browser, sourceType: 'script' } },
);
