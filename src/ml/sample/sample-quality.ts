/**
 * Sample-quality scores of a set of generated slices against a split's real slices: a Frechet
 * distance on a feature network the user points at (named after network and layer), and MS-SSIM
 * diversity. The real images' features are cached per (real-image set, network, layer) so that
 * evaluating several runs against the same split computes them once.
 *
 * Honest reporting: with N samples the sample covariance has rank at most N-1, so with fewer
 * samples than feature dimensions the Frechet distance is strongly biased (upwards) and only
 * comparable between evaluations with the same sample count; the result says so in its warning.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readPreparedIndex } from '../data/prepare';
import { writeFileAtomic } from '../io';
import { LayersFeatureNetwork } from '../losses/perceptual';
import { featureExtractorFromNetwork, frechetDistance, frechetMetricName, msSsimDiversity, type ImageBatch } from '../metrics';

export interface FeatureNetworkChoice {
  /** A TF.js layers model.json. */
  modelJson: string;
  /** Layer to tap (default: the network's deepest 4-D layer). */
  layer?: string;
  /** Folder for cached real-image features. */
  cacheDir?: string;
}

export interface FrechetReport {
  computed: boolean;
  /** frechet_distance[<net>:<layer>] when computed. */
  name: string | null;
  value: number | null;
  network: string | null;
  sha256: string | null;
  samples: number;
  realImages: number;
  featureDim: number | null;
  /** Why there is no value, or why the value must be read with care. */
  reason: string | null;
  warning: string | null;
  realFeaturesCached: boolean;
}

export interface DiversityReport {
  name: 'ms_ssim_diversity';
  mean: number;
  std: number;
  samples: number;
  orderedPairs: number;
}

/** Mean MS-SSIM over sample pairs (kernel 7, data range 1), as the reference's diversity script. */
export function sampleDiversity(samples: ImageBatch): DiversityReport | null {
  const n = samples.shape[0]!;
  if (n < 2) return null;
  const d = msSsimDiversity(samples, { kernelSize: 7, dataRange: 1 });
  return { name: 'ms_ssim_diversity', mean: d.mean, std: d.std, samples: n, orderedPairs: d.orderedPairs };
}

/** Says why no Frechet distance was computed (no network given). */
export function frechetNotComputed(reason: string, samples: number, realImages: number): FrechetReport {
  return { computed: false, name: null, value: null, network: null, sha256: null, samples, realImages, featureDim: null, reason, warning: null, realFeaturesCached: false };
}

function cacheFile(dir: string, realKey: string, sha256: string, layer: string): string {
  const h = createHash('sha256').update(`${realKey}\n${sha256}\n${layer}`).digest('hex').slice(0, 24);
  return join(dir, `features-${h}.json`);
}

function readCache(path: string, dim: number | null): Float64Array[] | null {
  if (!existsSync(path)) return null;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { features: number[][] };
    const out = parsed.features.map((f) => Float64Array.from(f));
    if (out.length === 0 || (dim !== null && out[0]!.length !== dim)) return null;
    return out;
  } catch {
    // A damaged cache file is recomputed and rewritten.
    return null;
  }
}

/**
 * Frechet distance between `samples` and `real` on the network in `choice`. `realKey` identifies
 * the real-image set (dataset cache, its index's modification time, split, count) for the cache.
 */
export async function frechetOnNetwork(choice: FeatureNetworkChoice, samples: ImageBatch, real: ImageBatch, realKey: string): Promise<FrechetReport> {
  const ns = samples.shape[0]!;
  const nr = real.shape[0]!;
  if (ns < 2 || nr < 2) return frechetNotComputed(`a Frechet distance needs at least 2 samples and 2 real images (have ${ns} and ${nr})`, ns, nr);
  const net = await LayersFeatureNetwork.load(choice.modelJson, choice.layer ? { taps: [choice.layer] } : { maxTaps: 64 });
  try {
    // The extractor pools the deepest tap: the given layer, or the end of the convolutional trunk.
    const extractor = featureExtractorFromNetwork(net, { batchSize: 8 });
    const layer = net.info.taps[net.info.taps.length - 1]!;
    let realFeatures: Float64Array[] | null = null;
    let cached = false;
    const path = choice.cacheDir ? cacheFile(choice.cacheDir, realKey, net.info.sha256, layer) : null;
    if (path) {
      realFeatures = readCache(path, null);
      cached = realFeatures !== null && realFeatures.length === nr;
      if (!cached) realFeatures = null;
    }
    if (!realFeatures) {
      realFeatures = await extractor.extract(real);
      if (path) {
        mkdirSync(choice.cacheDir!, { recursive: true });
        const body = { network: extractor.name, sha256: net.info.sha256, realKey, features: realFeatures.map((f) => Array.from(f)) };
        writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(body)));
      }
    }
    const sampleFeatures = await extractor.extract(samples);
    const dim = sampleFeatures[0]!.length;
    const value = frechetDistance(sampleFeatures, realFeatures);
    const smaller = Math.min(ns, nr);
    const warning =
      smaller <= dim
        ? `only ${smaller} ${ns <= nr ? 'samples' : 'real images'} for ${dim}-dimensional features: the covariance has rank ${smaller - 1} of ${dim}, so this Frechet distance is biased upwards and comparable only with evaluations using the same sample count (more than ${dim} samples give a full-rank covariance)`
        : null;
    return {
      computed: true,
      name: frechetMetricName(extractor.name),
      value,
      network: extractor.name,
      sha256: net.info.sha256,
      samples: ns,
      realImages: nr,
      featureDim: dim,
      reason: null,
      warning,
      realFeaturesCached: cached,
    };
  } finally {
    net.dispose();
  }
}

/** A cache key for a prepared split: its folder, index modification time, split and image count. */
export function realImageKey(datasetDir: string, split: string, count: number): string {
  const { dir } = readPreparedIndex(datasetDir);
  return `${dir}\n${statSync(join(dir, 'index.json')).mtimeMs}\n${split}\n${count}`;
}
