/**
 * Metric throughput (target: evaluate hundreds of 160x224 slices in seconds): PSNR + MAE +
 * MS-SSIM per slice, the lesion-aware table, MS-SSIM diversity pairs, and the float64 Frechet
 * distance in both of its routes. CPU seconds are reported next to wall time because the machine
 * is shared.
 */
import { evaluatePairs, frechetDistance, msSsimDiversity } from '../src/ml/metrics';
import { Rng } from '../src/ml/util/rng';
import { timeBoth } from './_common';

const H = 160;
const W = 224;

function slices(rng: Rng, count: number): { pred: Float32Array; target: Float32Array; lesion: Float32Array } {
  const n = H * W;
  const pred = new Float32Array(count * n);
  const target = new Float32Array(count * n);
  const lesion = new Float32Array(count * n);
  for (let b = 0; b < count; b++) {
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        const i = b * n + r * W + c;
        target[i] = 0.5 + 0.4 * Math.sin(r / 9 + b) * Math.cos(c / 13);
        pred[i] = Math.min(1, Math.max(0, target[i] + 0.05 * rng.normal()));
        lesion[i] = (r - 80) ** 2 + (c - 112) ** 2 < 100 ? 1 : 0;
      }
    }
  }
  return { pred, target, lesion };
}

export default async function () {
  const rng = Rng.fromSeed(1);
  const count = 300;
  const { pred, target, lesion } = slices(rng, count);
  const shape = [count, H, W];
  const results = [];

  const plain = timeBoth(() => evaluatePairs({ data: pred, shape }, { data: target, shape }));
  results.push({
    case: `psnr+mae+ms_ssim, ${count} slices 160x224`,
    value: count / plain.cpu,
    unit: 'slices/s (cpu time)',
    target: { op: '>=' as const, value: 50 },
    detail: { wallSeconds: plain.wall, cpuSeconds: plain.cpu },
  });
  const withLesion = timeBoth(() => evaluatePairs({ data: pred, shape }, { data: target, shape }, { lesion: { data: lesion, shape } }));
  results.push({
    case: `+ lesion / non-lesion columns, ${count} slices`,
    value: count / withLesion.cpu,
    unit: 'slices/s (cpu time)',
    detail: { wallSeconds: withLesion.wall, cpuSeconds: withLesion.cpu },
  });

  const samples = 16;
  const div = timeBoth(() => msSsimDiversity({ data: pred.subarray(0, samples * H * W), shape: [samples, H, W] }));
  results.push({
    case: `MS-SSIM diversity, ${samples} samples (${samples * (samples - 1)} ordered pairs)`,
    value: div.cpu,
    unit: 's (cpu time)',
    detail: { wallSeconds: div.wall },
  });

  const feats = (n: number, dim: number, shift: number) => Array.from({ length: n }, () => Float64Array.from({ length: dim }, () => shift + rng.normal()));
  for (const [n, dim] of [[1000, 256], [300, 1280]] as const) {
    const a = feats(n, dim, 0);
    const b = feats(n, dim, 0.05);
    const t = timeBoth(() => frechetDistance(a, b));
    results.push({
      case: `Frechet distance, ${n} vs ${n} samples, ${dim}-d (${n >= dim ? 'covariance' : 'sample-space'} route)`,
      value: t.cpu,
      unit: 's (cpu time)',
      detail: { wallSeconds: t.wall },
    });
  }
  return { description: 'metrics on plain Float32Array images (src/ml/metrics)', results };
}
