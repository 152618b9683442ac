import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // reports/: generated output (test reports, the bench's own bundles and profiles), like dist/.
  { ignores: ['**/node_modules/**', '.stack/**', 'deploy/**', 'dist/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  // scripts/*.mjs are type-checked too (tsconfig checkJs): turn off the core rules the compiler covers
  // (no-undef…) for them as typescript-eslint does for .ts files.
  { ...tseslint.configs.eslintRecommended, files: ['**/*.mjs'] },
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The saga's FSM and the domain values it speaks are pure: no I/O library may enter them.
    files: ['packages/fsm/**/*.ts', 'packages/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: '^(node:|fs|net|http|https|child_process|dgram|dns|tls|cassandra-driver|bullmq|ioredis|express|undici|pino|prom-client|@it/(?!domain$))',
          message: 'packages/fsm and packages/domain are pure: no I/O, and no workspace package but @it/domain.',
        }],
      }],
    },
  },
  {
    // vitest's asymmetric matchers (expect.any, expect.objectContaining) are typed `any`.
    files: ['**/test/**/*.ts', 'tests/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
