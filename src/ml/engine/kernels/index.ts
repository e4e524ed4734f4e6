import * as tf from '@tensorflow/tfjs';
import { batchMatMulGrad } from './batchMatMulGrad';
import { GRADIENT_FIXES } from './gradientFixes';
import { conv2dBackpropFilterKernel } from './conv2dBackpropFilter';
import { conv2dBackpropFilterCpuKernel } from './conv2dBackpropFilterCpu';
import { conv2dBackpropInputKernel } from './conv2dBackpropInput';
import { untransposedMatMulKernel } from './matMulTranspose';
import { resizeNearestNeighborGradKernel } from './resizeNearestNeighborGrad';
import { identityWasmKernel, sliceWasmKernel, splitVWasmKernel } from './sliceWasm';
import { unsortedSegmentSumKernel } from './unsortedSegmentSum';

/** One project kernel: what it fixes, and how to build it from the stock kernel (if any). */
export interface KernelFix {
  kernelName: string;
  why: string;
  make: (backendName: string, stock: tf.KernelConfig | undefined) => tf.KernelConfig;
}

const FIXES: Record<string, KernelFix[]> = {
  wasm: [
    { kernelName: tf.BatchMatMul, why: 'transposed operands fall off XNNPACK (~20x slower)', make: (_b, stock) => untransposedMatMulKernel(required(stock, tf.BatchMatMul)) },
    { kernelName: tf._FusedMatMul, why: 'transposed operands fall off XNNPACK (~20x slower)', make: (_b, stock) => untransposedMatMulKernel(required(stock, tf._FusedMatMul)) },
    { kernelName: tf.Conv2DBackpropFilter, why: 'missing (no conv weight gradients)', make: (b) => conv2dBackpropFilterKernel(b) },
    { kernelName: tf.Conv2DBackpropInput, why: 'stock kernel is a scalar loop (~10x slower than conv2d)', make: (b) => conv2dBackpropInputKernel(b) },
    { kernelName: tf.UnsortedSegmentSum, why: 'missing (no tf.gather gradient)', make: (b) => unsortedSegmentSumKernel(b) },
    { kernelName: tf.Slice, why: 'copies its whole input per call (n slices of one tensor: n full copies)', make: (_b, stock) => sliceWasmKernel(required(stock, tf.Slice)) },
    {
      kernelName: tf.SplitV,
      why: 'one whole-input copy per part (through the stock Slice)',
      make: (_b, stock) => splitVWasmKernel(required(stock, tf.SplitV), sliceWasmKernel(required(stockKernel('wasm', tf.Slice), tf.Slice))),
    },
    { kernelName: tf.Identity, why: 'copies its input (autodiff passes most gradients through it)', make: (_b, stock) => identityWasmKernel(required(stock, tf.Identity)) },
  ],
  cpu: [
    { kernelName: tf.Conv2DBackpropFilter, why: 'stock kernel ~1000x too slow (per-element TensorBuffer access)', make: (b) => conv2dBackpropFilterCpuKernel(b) },
    { kernelName: tf.ResizeNearestNeighborGrad, why: 'stock kernel wrong for batch > 1', make: (b) => resizeNearestNeighborGradKernel(b) },
  ],
};

function required(stock: tf.KernelConfig | undefined, name: string): tf.KernelConfig {
  if (!stock) throw new Error(`engine: stock kernel ${name} is not registered; cannot wrap it`);
  return stock;
}

const registered = new Set<string>();
let gradientsFixed = false;

/** Gradient replacements; global in tfjs (not per backend), registered once. */
export function registerGradientFixes(): string[] {
  const fixes = [batchMatMulGrad, ...GRADIENT_FIXES];
  if (!gradientsFixed) {
    for (const g of fixes) {
      if (tf.getGradient(g.kernelName)) tf.unregisterGradient(g.kernelName);
      tf.registerGradient(g);
    }
    gradientsFixed = true;
  }
  return fixes.map((g) => `grad:${g.kernelName}`);
}
const stockKernels = new Map<string, tf.KernelConfig>();

/** The fixes the project registers for a backend (empty for backends it trusts as shipped). */
export function kernelFixesFor(backendName: string): readonly KernelFix[] {
  return FIXES[backendName] ?? [];
}

/** Registers the project's kernels for `backendName` once; later calls are no-ops. */
export function registerKernelFixes(backendName: string): string[] {
  registerGradientFixes();
  const fixes = kernelFixesFor(backendName);
  if (registered.has(backendName)) return fixes.map((f) => f.kernelName);
  for (const fix of fixes) {
    const stock = tf.getKernel(fix.kernelName, backendName);
    if (stock) {
      stockKernels.set(`${backendName}/${fix.kernelName}`, stock);
      tf.unregisterKernel(fix.kernelName, backendName);
    }
    tf.registerKernel(fix.make(backendName, stock));
  }
  registered.add(backendName);
  return fixes.map((f) => f.kernelName);
}

/** The stock kernel a fix replaced (for benchmarks and tests that compare against it). */
export function stockKernel(backendName: string, kernelName: string): tf.KernelConfig | undefined {
  return stockKernels.get(`${backendName}/${kernelName}`);
}
