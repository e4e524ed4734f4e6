import { channels, type ChannelName, type EventName, type EventPayload, type RequestOf, type ResponseOf } from './channels';
import { unwrap, type Envelope } from './wire';

/** The typed `window.api`, built from any transport. */

/** How a client reaches main: Electron ipcRenderer (preload) or a WebSocket (bridge-client). */
export interface Transport {
  invoke(channel: ChannelName, payload: unknown): Promise<Envelope>;
  subscribe(event: EventName, listener: (payload: unknown) => void): () => void;
}

type GroupOf<C> = C extends `${infer G}.${string}` ? G : never;
type MethodOf<C, G extends string> = C extends `${G}.${infer M}` ? M : never;
type MethodFn<C extends ChannelName> = Record<never, never> extends RequestOf<C>
  ? (request?: RequestOf<C>) => Promise<ResponseOf<C>>
  : (request: RequestOf<C>) => Promise<ResponseOf<C>>;

export type Api = {
  [G in GroupOf<ChannelName>]: { [M in MethodOf<ChannelName, G>]: MethodFn<Extract<`${G}.${M}`, ChannelName>> };
} & {
  /** Subscribes to a push event; returns the unsubscribe function. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** Generic form of every method, for code that picks the channel at run time. */
  invoke<C extends ChannelName>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>>;
};

export function createApi(transport: Transport): Api {
  const invoke = async <C extends ChannelName>(channelName: C, request: RequestOf<C>): Promise<ResponseOf<C>> =>
    unwrap<ResponseOf<C>>(channelName, await transport.invoke(channelName, request ?? {}));

  const api: Record<string, unknown> = {
    on: <E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) =>
      transport.subscribe(event, listener as (payload: unknown) => void),
    invoke,
  };
  for (const name of Object.keys(channels) as ChannelName[]) {
    const [group, method] = name.split('.') as [string, string];
    const target = (api[group] ??= {}) as Record<string, unknown>;
    target[method] = (request?: unknown) => invoke(name, (request ?? {}) as RequestOf<typeof name>);
  }
  return api as Api;
}
