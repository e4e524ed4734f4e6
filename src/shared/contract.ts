/**
 * THE IPC contract: every request/response channel and every push event, defined once.
 * The preload's `window.api`, the main-process handlers and the browser bridge are all derived
 * from (and validated against) these objects, so they cannot drift apart.
 *
 * The schemas live by domain in ./contract/ (app, runs, datasets, train, sampling, evaluation,
 * events); ./contract/channels gathers the channels, ./contract/wire is the reply envelope and
 * ./contract/client builds the typed `window.api` from a transport. Import from this file only.
 *
 * Adding a capability = adding a channel to its domain file's `...Channels` object (or an event to
 * ./contract/events) plus its handler in the back end. Channel names are `group.method`; the client
 * exposes them as `api.group.method(request)`. Payloads are plain JSON (timestamps are ISO-8601
 * strings).
 *
 * These modules import nothing but zod: they are loaded by main, preload, renderer and CLI alike.
 */
export * from './contract/app';
export * from './contract/runs';
export * from './contract/run-admin';
export * from './contract/datasets';
export * from './contract/train';
export * from './contract/jobs';
export * from './contract/cluster';
export * from './contract/sampling';
export * from './contract/evaluation';
export * from './contract/events';
export * from './contract/channels';
export * from './contract/wire';
export * from './contract/client';
