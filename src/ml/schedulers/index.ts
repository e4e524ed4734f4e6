/** Diffusion schedulers: pure schedule arithmetic plus the tensor-side step / add_noise / velocity. */
export * from './schedule';
export * from './timesteps';
export * from './random';
export * from './ops';
export * from './config';
export type { Scheduler, StepOptions, StepResult } from './scheduler';
export { DDPMScheduler } from './ddpm';
export { DDIMScheduler } from './ddim';
