/**
 * brainsynth engine: networks, schedulers, losses, metrics, data pipeline, trainers, samplers.
 * Plain TypeScript on the TensorFlow.js API. Imports nothing from Electron, Vue or src/main,
 * so tests, the CLI and benchmarks use it directly in Node.
 */
export const ENGINE_NAME = 'brainsynth-ml';
