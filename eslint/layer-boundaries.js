// ESLint rule `layers/boundaries`: which top-level folders of src/ a file may import from.
//
// ESLint's built-in no-restricted-imports matches the import text, and a relative path such as
// '../../shared/contract' means a different folder depending on where the importing file sits.
// This rule resolves relative specifiers against the importing file first, so the check is about
// the folder that is actually reached. Bare package names are checked by name (e.g. 'electron').
import { dirname, relative, resolve, sep } from 'node:path';

/**
 * @typedef {{ allow: string[], denyPackages?: string[], onlyPackages?: string[] }} Layer
 *   allow: the other src/ folders it may import; denyPackages: packages it must not import;
 *   onlyPackages: when set, the only packages it may import (node: built-ins included).
 * @typedef {{ root: string, layers: Record<string, Layer> }} Options
 *   root: the repository root; layers: src/<name> -> its Layer.
 */

/** The src/ folder a path lies in, or null outside src/ (tests, scripts, config). */
function layerOf(root, file) {
  const rel = relative(root, file);
  if (rel.startsWith('..')) return null;
  const parts = rel.split(sep);
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : null;
}

function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** @type {import('eslint').Rule.RuleModule} */
const boundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'Keeps each src/ layer to the folders and packages it may depend on' },
    schema: [{ type: 'object', additionalProperties: true }],
    messages: {
      folder: "src/{{from}} must not import from src/{{to}} ('{{specifier}}'); src/{{from}} may import: {{allowed}}",
      package: "src/{{from}} must not import the '{{pkg}}' package",
    },
  },
  create(context) {
    /** @type {Options} */
    const { root, layers } = context.options[0];
    const filename = context.filename;
    const from = layerOf(root, filename);
    const rules = from ? layers[from] : undefined;
    if (!from || !rules) return {};

    function check(node, specifier) {
      if (typeof specifier !== 'string') return;
      if (specifier.startsWith('.') || specifier.startsWith('/')) {
        const to = layerOf(root, resolve(dirname(filename), specifier));
        if (to === null || to === from || rules.allow.includes(to)) return;
        const allowed = rules.allow.length ? rules.allow.map((l) => `src/${l}`).join(', ') : 'nothing outside itself';
        context.report({ node, messageId: 'folder', data: { from, to, specifier, allowed } });
        return;
      }
      const pkg = packageName(specifier);
      const denied = rules.onlyPackages ? !rules.onlyPackages.includes(pkg) : (rules.denyPackages ?? []).includes(pkg);
      if (denied) context.report({ node, messageId: 'package', data: { from, pkg } });
    }

    const source = (node) => (node.source && node.source.type === 'Literal' ? node.source.value : undefined);
    return {
      ImportDeclaration: (node) => check(node, source(node)),
      ExportNamedDeclaration: (node) => check(node, source(node)),
      ExportAllDeclaration: (node) => check(node, source(node)),
      ImportExpression: (node) => check(node, source(node)),
    };
  },
};

export default { rules: { boundaries } };
