export * from './parameters';
export * from './layers';
export * from './attention';
export * from './layout';
export { SeededRandom } from './random';
export { ownedVariable } from './variables';
