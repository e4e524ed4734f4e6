import type { z } from 'zod';
import { appChannels } from './app';
import { datasetChannels } from './datasets';
import { evaluateChannels } from './evaluation';
import { events } from './events';
import { runChannels } from './runs';
import { clusterChannels } from './cluster';
import { runAdminChannels } from './run-admin';
import { jobChannels } from './jobs';
import { generateChannels } from './sampling';
import { trainChannels } from './train';

/** Every request/response channel, named `group.method`, gathered from the domain files. */
export const channels = {
  ...appChannels,
  ...runChannels,
  ...runAdminChannels,
  ...trainChannels,
  ...jobChannels,
  ...generateChannels,
  ...evaluateChannels,
  ...datasetChannels,
  ...clusterChannels,
} as const;

export type Channels = typeof channels;
export type ChannelName = keyof Channels;
export type RequestOf<C extends ChannelName> = z.input<Channels[C]['request']>;
export type ParsedRequestOf<C extends ChannelName> = z.output<Channels[C]['request']>;
export type ResponseOf<C extends ChannelName> = z.output<Channels[C]['response']>;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;
export type EventMap = { [E in EventName]: EventPayload<E> };

export function isChannelName(name: unknown): name is ChannelName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(channels, name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(events, name);
}
