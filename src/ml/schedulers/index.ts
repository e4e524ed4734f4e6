/** Diffusion schedulers: pure schedule arithmetic plus the tensor-side step / add_noise / velocity. */
export * from './schedule';
export * from './timesteps';
export * from './random';
export * from './ops';
export * from './config';
export { DDPMScheduler, type StepResult } from './ddpm';
export { DDIMScheduler, type DDIMStepOptions } from './ddim';
