import { ESLint } from 'eslint';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// Lints source text as if it were a file at the given path, with the repository's own ESLint
// config, and returns the layer-rule messages.
const root = resolve(__dirname, '..', '..');
const eslint = new ESLint({ cwd: root });

async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  expect(result, `ESLint linted ${file}`).toBeDefined();
  return result!.messages.filter((m) => m.ruleId === 'layers/boundaries').map((m) => m.message);
}

describe('layer boundaries (eslint)', () => {
  it('src/ml importing src/shared fails lint', async () => {
    const errors = await layerErrors('src/ml/zone-probe.ts', "import { channels } from '../shared/contract';\nexport const n = channels;\n");
    expect(errors).toEqual([expect.stringContaining('src/ml must not import from src/shared')]);
  });

  it('a nested src/ml file reaching into src/main fails lint (resolved, not matched by text)', async () => {
    const errors = await layerErrors('src/ml/train/zone-probe.ts', "export { APP_NAME } from '../../main/app-meta';\n");
    expect(errors).toEqual([expect.stringContaining('src/ml must not import from src/main')]);
  });

  it('src/renderer importing src/main fails lint', async () => {
    const errors = await layerErrors('src/renderer/src/zone-probe.ts', "import { APP_NAME } from '../../main/app-meta';\nexport const n = APP_NAME;\n");
    expect(errors).toEqual([expect.stringContaining('src/renderer must not import from src/main')]);
  });

  it('src/backend importing electron or src/main fails lint', async () => {
    const code = "import { app } from 'electron';\nimport { APP_NAME } from '../../main/app-meta';\nexport const n = [app, APP_NAME];\n";
    const errors = await layerErrors('src/backend/jobs/zone-probe.ts', code);
    expect(errors).toEqual([
      expect.stringContaining("src/backend must not import the 'electron' package"),
      expect.stringContaining('src/backend must not import from src/main'),
    ]);
  });

  it('src/cli importing src/main fails lint', async () => {
    const errors = await layerErrors('src/cli/zone-probe.ts', "export * from '../main/app-meta';\n");
    expect(errors).toEqual([expect.stringContaining('src/cli must not import from src/main')]);
  });

  it('src/shared importing anything but zod fails lint', async () => {
    const errors = await layerErrors('src/shared/zone-probe.ts', "import { z } from 'zod';\nimport { readFileSync } from 'node:fs';\nexport const n = [z, readFileSync];\n");
    expect(errors).toEqual([expect.stringContaining("src/shared must not import the 'node:fs' package")]);
  });

  it('allowed imports pass: renderer -> shared, backend -> ml + shared, cli -> backend, ml -> ml', async () => {
    expect(await layerErrors('src/renderer/src/zone-probe.ts', "import type { Run } from '../../shared/contract';\nexport type R = Run;\n")).toEqual([]);
    const backend = "import { channels } from '../../shared/contract';\nimport * as ml from '../../ml/index';\nexport const n = [channels, ml];\n";
    expect(await layerErrors('src/backend/jobs/zone-probe.ts', backend)).toEqual([]);
    expect(await layerErrors('src/cli/zone-probe.ts', "export * from '../backend/api/index';\n")).toEqual([]);
    expect(await layerErrors('src/ml/train/zone-probe.ts', "export * from '../util/rng';\n")).toEqual([]);
    expect(await layerErrors('src/main/zone-probe.ts', "import { app } from 'electron';\nexport * from '../backend/api/index';\nexport const a = app;\n")).toEqual([]);
  });
});
