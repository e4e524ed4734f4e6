import { evaluatePairs, msSsimDiversity } from '../../src/ml/metrics';
import { Rng } from '../../src/ml/util/rng';
const rng = Rng.fromSeed(1); const N = 300, n = 160*224;
const p = new Float32Array(N*n), t = new Float32Array(N*n), l = new Float32Array(N*n);
for (let i=0;i<N*n;i++){ t[i]=rng.uniform(); p[i]=Math.min(1, t[i]+0.1*rng.normal()); l[i] = (i % n) < 2000 ? 1 : 0; }
const shape=[N,160,224];
let s=performance.now(); const r = evaluatePairs({data:p,shape},{data:t,shape}); console.log('300 slices psnr/mae/msssim ms', performance.now()-s, r.summary.ms_ssim.mean);
s=performance.now(); evaluatePairs({data:p,shape},{data:t,shape},{lesion:{data:l,shape}}); console.log('with lesion ms', performance.now()-s);
s=performance.now(); msSsimDiversity({data:p.subarray(0, 20*n), shape:[20,160,224]}); console.log('diversity 20 samples ms', performance.now()-s);
