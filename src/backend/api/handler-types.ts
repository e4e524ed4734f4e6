import type { ChannelName, ParsedRequestOf, ResponseOf } from '../../shared/contract';

/** One channel's implementation: the validated request in, the contract's response out. */
export type Handler<C extends ChannelName> = (request: ParsedRequestOf<C>) => ResponseOf<C> | Promise<ResponseOf<C>>;
/** Every contract channel with exactly one handler (a missing one is a compile error). */
export type HandlerTable = { [C in ChannelName]: Handler<C> };
