import { defineComponent } from 'vue';
import { createMemoryHistory } from 'vue-router';
import { describe, expect, it } from 'vitest';
import { createAppRouter, dataSelection, pageTitle, type ViewName } from '../../src/renderer/src/routes';

// The page table with placeholder views; '#' as the memory history's base makes hrefs look like
// the app's hash URLs.
const stub = (name: string) => defineComponent({ name, render: () => null });
const views = Object.fromEntries((['data', 'train', 'generate', 'experiments', 'run', 'not-found'] as ViewName[]).map((n) => [n, stub(n)])) as Record<ViewName, ReturnType<typeof stub>>;
const router = createAppRouter(views, createMemoryHistory('#'));

describe('hash routes', () => {
  it('parses the four views and run pages, and rejects anything else', async () => {
    expect(router.resolve('/experiments').name).toBe('experiments');
    await router.push('/');
    expect(router.currentRoute.value.name).toBe('data');
    expect(router.currentRoute.value.path).toBe('/data');
    const run = router.resolve('/runs/12');
    expect(run.name).toBe('run');
    expect(run.params.runId).toBe('12');
    expect(router.resolve('/runs/0')).toMatchObject({ name: 'not-found', path: '/runs/0' });
    expect(router.resolve('/runs/abc')).toMatchObject({ name: 'not-found', path: '/runs/abc' });
    expect(router.resolve({ name: 'run', params: { runId: 3 } }).href).toBe('#/runs/3');
  });

  it('gives the run page its id as a number prop', () => {
    const record = router.getRoutes().find((r) => r.name === 'run');
    const props = record?.props.default;
    expect(typeof props).toBe('function');
    expect((props as (to: ReturnType<typeof router.resolve>) => unknown)(router.resolve('/runs/7'))).toEqual({ runId: 7 });
  });

  it('reads a dataset and a subject label (decoded) from #/data/<id>/<subject>', () => {
    expect(dataSelection(router.resolve('/data'))).toEqual({});
    expect(dataSelection(router.resolve('/data/4'))).toEqual({ datasetId: 4 });
    const href = router.resolve({ name: 'dataset', params: { datasetId: 4, subject: 'sub 01/a' } }).href;
    expect(href).toBe('#/data/4/sub%2001%2Fa');
    expect(dataSelection(router.resolve(href.slice(1)))).toEqual({ datasetId: 4, subject: 'sub 01/a' });
    expect(router.resolve('/data/0').name).toBe('not-found');
    expect(router.resolve('/data/4/a/b').name).toBe('not-found');
  });

  it('keeps the Generate query for the view and names pages in the window title', () => {
    const generate = router.resolve('/generate?dataset=1&subject=s1&volume=2&z=90');
    expect(generate.name).toBe('generate');
    expect(generate.fullPath).toBe('/generate?dataset=1&subject=s1&volume=2&z=90');
    expect(pageTitle(generate)).toBe('Generate · brainsynth');
    expect(pageTitle(router.resolve('/runs/5'))).toBe('Run #5 · brainsynth');
    expect(pageTitle(router.resolve('/nowhere'))).toBe('Not found · brainsynth');
  });
});
