/**
 * Whether a metric improves downwards (losses, errors, FID) or upwards (PSNR, SSIM, MS-SSIM,
 * Dice, ...). Shared so the store's "best" and the renderer's highlighting agree.
 */
const HIGHER_IS_BETTER = /(psnr|ssim|dice|iou|accuracy|(^|_)acc($|_)|auc|(^|_)f1($|_)|(^|_)r2($|_)|precision|recall)/i;

export function metricGoal(name: string): 'min' | 'max' {
  // Pairwise similarity between samples: lower means more diverse.
  if (/diversity/i.test(name)) return 'min';
  return HIGHER_IS_BETTER.test(name) ? 'max' : 'min';
}
