/**
 * The sampling settings a ControlNet run suggests, read from its training config: its guidance
 * scale, its sampling conditioning scale (runs recorded before that setting existed: the scale it
 * trained at), whether it masks to the FLAIR's brain and its figures' DDIM steps. The Generate view and volume translation start from
 * these, as `brainsynth generate` and `evaluate` do when no value is given.
 */
export interface RunSamplingDefaults {
  guidanceScale: number;
  conditioningScale: number;
  /** Zero the output outside the FLAIR's brain (runs recorded before the setting: desktop runs do). */
  brainMask: boolean;
  /** null: the config names none, so the form keeps its own. */
  steps: number | null;
}

function numberIn(section: Record<string, unknown> | undefined, key: string): number | null {
  const v = section?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function runSamplingDefaults(config: Record<string, unknown>): RunSamplingDefaults {
  const cn = config.controlnet as Record<string, unknown> | undefined;
  const steps = numberIn(cn, 'sampleSteps');
  return {
    guidanceScale: numberIn(cn, 'guidanceScale') ?? 7,
    conditioningScale: numberIn(cn, 'sampleConditioningScale') ?? numberIn(cn, 'conditioningScale') ?? 1,
    brainMask: typeof cn?.sampleBrainMask === 'boolean' ? cn.sampleBrainMask : config.preset === 'desktop',
    steps: steps === null ? null : Math.max(1, Math.min(1000, Math.round(steps))),
  };
}
