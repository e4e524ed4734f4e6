/** Image-quality metrics (MONAI-faithful MS-SSIM/SSIM, PSNR, MAE), Frechet distance, baselines. */
export * from './images';
export * from './summary';
export * from './regression';
export * from './ssim';
export * from './masked';
export * from './diversity';
export * from './linalg';
export * from './frechet';
export * from './baselines';
export * from './evaluate';
export * from './features';
export * from './baseline-suite';
export * from './tensor-images';
