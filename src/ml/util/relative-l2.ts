/**
 * Relative L2 error ‖actual − expected‖ / ‖expected‖ (plain ‖actual‖ when expected is all zeros):
 * how forward passes and sampler steps are compared with the MONAI goldens.
 */
export function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}
