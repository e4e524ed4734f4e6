/** Electron IPC channel prefixes: `api:<contract channel>` for invokes, `event:<event>` for pushes. */
export const IPC_INVOKE_PREFIX = 'api:';
export const IPC_EVENT_PREFIX = 'event:';
