import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import vue from 'eslint-plugin-vue';
import globals from 'globals';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import layers from './eslint/layer-boundaries.js';

/**
 * Who may import whom inside src/. The engine (ml) and the wire contract (shared) stand alone; the
 * Electron-free back end builds on them; the CLI and Electron main host the back end; the renderer
 * talks to the rest only through the shared contract. Folders not listed (tests, scripts) are free.
 */
export const LAYERS = {
  ml: { allow: [], denyPackages: ['electron', 'vue'] },
  shared: { allow: [], onlyPackages: ['zod'] },
  backend: { allow: ['ml', 'shared'], denyPackages: ['electron', 'vue'] },
  cli: { allow: ['backend', 'ml', 'shared'], denyPackages: ['electron', 'vue'] },
  main: { allow: ['backend', 'ml', 'shared'] },
  preload: { allow: ['shared'] },
  renderer: { allow: ['shared'], denyPackages: ['electron'] },
};

export default tseslint.config(
  { ignores: ['.*/**', '.*', 'out/**', 'dist/**', 'node_modules/**', 'coverage/**', 'e2e/artifacts/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser }, ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'vue/multi-word-component-names': 'off',
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
    },
  },
  {
    files: ['src/**/*.{ts,mts,js,mjs,vue}'],
    plugins: { layers },
    rules: { 'layers/boundaries': ['error', { root: dirname(fileURLToPath(import.meta.url)), layers: LAYERS }] },
  },
);
