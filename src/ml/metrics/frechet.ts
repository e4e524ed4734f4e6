/**
 * Frechet distance between two feature sets (the FID formula of MONAI's FIDMetric, float64):
 * |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrtm(S1 S2), with unbiased (N-1) covariances. The feature
 * network is pluggable and names the metric: `frechet_distance[<network>]` -- "FID" proper means
 * Inception-v3 features, which this project does not ship.
 *
 * tr sqrtm(S1 S2) is computed without a non-symmetric matrix square root: it equals the sum of
 * sqrt(eigenvalues) of the PSD matrix sqrt(S1) S2 sqrt(S1), and when there are fewer samples than
 * feature dimensions (the usual, rank-deficient case) the nuclear norm of A1ᵀ A2 / sqrt((N1-1)(N2-1))
 * with A the centred feature matrices, which is smaller and exact.
 */
import type { ImageBatch } from './images';
import { matmul, sqrtPsd, symmetricEigen, symmetrize, transpose } from './linalg';

/** A feature network for Frechet-style scores: images in [0,1] -> one vector per image. */
export interface FeatureExtractor {
  /** Short stable identifier used in the metric name, e.g. "mobilenet_v1_0.25_224". */
  readonly name: string;
  extract(images: ImageBatch): Float64Array[] | Promise<Float64Array[]>;
}

export interface FeatureStatistics {
  mean: Float64Array;
  /** Unbiased covariance, row-major dim x dim. */
  covariance: Float64Array;
  dim: number;
  count: number;
}

function checkFeatures(features: Float64Array[], what: string): number {
  if (features.length < 2) throw new Error(`${what}: need at least 2 feature vectors for a covariance, got ${features.length}`);
  const dim = features[0].length;
  if (dim < 1) throw new Error(`${what}: feature vectors are empty`);
  features.forEach((f, i) => {
    if (f.length !== dim) throw new Error(`${what}: feature ${i} has length ${f.length}, expected ${dim}`);
    for (let k = 0; k < dim; k++) if (!Number.isFinite(f[k])) throw new Error(`${what}: feature ${i} has a non-finite value at ${k}`);
  });
  return dim;
}

function meanOf(features: Float64Array[], dim: number): Float64Array {
  const mean = new Float64Array(dim);
  for (const f of features) for (let k = 0; k < dim; k++) mean[k] += f[k];
  for (let k = 0; k < dim; k++) mean[k] /= features.length;
  return mean;
}

/** Centred features as an N x dim row-major matrix. */
function centred(features: Float64Array[], mean: Float64Array): Float64Array {
  const dim = mean.length;
  const a = new Float64Array(features.length * dim);
  features.forEach((f, i) => {
    for (let k = 0; k < dim; k++) a[i * dim + k] = f[k] - mean[k];
  });
  return a;
}

export function featureStatistics(features: Float64Array[], what = 'features'): FeatureStatistics {
  const dim = checkFeatures(features, what);
  const mean = meanOf(features, dim);
  const a = centred(features, mean);
  const n = features.length;
  const covariance = matmul(transpose(a, n, dim), a, dim, n, dim);
  for (let i = 0; i < covariance.length; i++) covariance[i] /= n - 1;
  symmetrize(covariance, dim);
  return { mean, covariance, dim, count: n };
}

function trace(m: Float64Array, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += m[i * n + i];
  return t;
}

function sumSqrtClamped(values: Float64Array): number {
  let s = 0;
  for (const v of values) s += Math.sqrt(Math.max(v, 0));
  return s;
}

/** tr sqrtm(S1 S2) for symmetric PSD S1, S2 (dim x dim). */
export function traceSqrtProduct(s1: Float64Array, s2: Float64Array, dim: number): number {
  const r1 = sqrtPsd(s1, dim);
  const m = matmul(matmul(r1, s2, dim, dim, dim), r1, dim, dim, dim);
  symmetrize(m, dim);
  return sumSqrtClamped(symmetricEigen(m, dim, { vectors: false }).values);
}

/** Frechet distance between two Gaussians given by their statistics. */
export function frechetDistanceFromStatistics(a: FeatureStatistics, b: FeatureStatistics): number {
  if (a.dim !== b.dim) throw new Error(`Frechet distance: feature sizes differ (${a.dim} vs ${b.dim})`);
  const dim = a.dim;
  let meanTerm = 0;
  for (let k = 0; k < dim; k++) meanTerm += (a.mean[k] - b.mean[k]) ** 2;
  const trSqrt = traceSqrtProduct(a.covariance, b.covariance, dim);
  return meanTerm + trace(a.covariance, dim) + trace(b.covariance, dim) - 2 * trSqrt;
}

/** Frechet distance between two feature sets (float64), choosing the cheaper exact route. */
export function frechetDistance(featuresA: Float64Array[], featuresB: Float64Array[]): number {
  const dim = checkFeatures(featuresA, 'first feature set');
  const dimB = checkFeatures(featuresB, 'second feature set');
  if (dim !== dimB) throw new Error(`Frechet distance: feature sizes differ (${dim} vs ${dimB})`);
  const na = featuresA.length;
  const nb = featuresB.length;
  if (Math.min(na, nb) >= dim) return frechetDistanceFromStatistics(featureStatistics(featuresA), featureStatistics(featuresB));
  const muA = meanOf(featuresA, dim);
  const muB = meanOf(featuresB, dim);
  const A = centred(featuresA, muA);
  const B = centred(featuresB, muB);
  let meanTerm = 0;
  for (let k = 0; k < dim; k++) meanTerm += (muA[k] - muB[k]) ** 2;
  let trA = 0;
  for (const v of A) trA += v * v;
  trA /= na - 1;
  let trB = 0;
  for (const v of B) trB += v * v;
  trB /= nb - 1;
  // Cross = A Bᵀ (na x nb); tr sqrtm(S1 S2) = nuclear norm of Cross / sqrt((na-1)(nb-1)).
  const cross = matmul(A, transpose(B, nb, dim), na, dim, nb);
  const small = Math.min(na, nb);
  const gram = na <= nb ? matmul(cross, transpose(cross, na, nb), na, nb, na) : matmul(transpose(cross, na, nb), cross, nb, na, nb);
  symmetrize(gram, small);
  const nuclear = sumSqrtClamped(symmetricEigen(gram, small, { vectors: false }).values);
  return meanTerm + trA + trB - (2 * nuclear) / Math.sqrt((na - 1) * (nb - 1));
}

export interface FrechetResult {
  /** e.g. "frechet_distance[mobilenet_v1_0.25_224]" */
  name: string;
  network: string;
  value: number;
  countA: number;
  countB: number;
  featureDim: number;
}

export function frechetMetricName(network: string): string {
  return `frechet_distance[${network}]`;
}

/** Extract features of both image sets with `extractor` and compare them. */
export async function computeFrechetDistance(extractor: FeatureExtractor, imagesA: ImageBatch, imagesB: ImageBatch): Promise<FrechetResult> {
  const fa = await extractor.extract(imagesA);
  const fb = await extractor.extract(imagesB);
  return {
    name: frechetMetricName(extractor.name),
    network: extractor.name,
    value: frechetDistance(fa, fb),
    countA: fa.length,
    countB: fb.length,
    featureDim: fa[0]?.length ?? 0,
  };
}
