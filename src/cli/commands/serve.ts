/**
 * `brainsynth serve`: the browser bridge (same renderer and window.api shape as the Electron app)
 * on 127.0.0.1. Prints `brainsynth serve: listening on <url>` on its own line for scripts/e2e.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { rendererMissingMessage, startBridge } from '../../backend/bridge/server';
import { defaultRendererDir } from '../../backend/bridge/static-files';
import { homeOption } from '../services';

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer 0-65535, got '${text}'`);
  return port;
}

/** A guessable token would let any local program drive the app: ask for a long, URL-safe one. */
function parseToken(text: string): string {
  if (!/^[A-Za-z0-9_-]{24,256}$/.test(text)) throw new Error('--token must be 24 to 256 characters of A-Z, a-z, 0-9, _ or -');
  return text;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the workstation UI to a local browser (HTTP + WebSocket on the loopback interface, per-launch token)')
    .option('--port <port>', 'port to listen on (0: any free port)', parsePort, 0)
    .option('--host <address>', 'loopback address to bind (127.0.0.1, ::1 or localhost)', '127.0.0.1')
    .option('--renderer <dir>', 'built renderer folder (default: out/renderer)')
    .option('--api-only', 'serve only the API, without the built renderer')
    .option(
      '--token <token>',
      'access token to require (default: a new random one each launch); with a fixed --port as well, open tabs reconnect after a restart',
      parseToken,
    )
    .action(async (opts: { port: number; host: string; renderer?: string; apiOnly?: boolean; token?: string }, cmd: Command) => {
      const rendererDir = opts.apiOnly ? null : (opts.renderer ?? defaultRendererDir());
      if (rendererDir !== null && !existsSync(join(rendererDir, 'index.html'))) {
        throw new Error(`serve: ${rendererMissingMessage(rendererDir)} (or pass --api-only)`);
      }
      const home = homeOption(cmd);
      const bridge = await startBridge({ home, port: opts.port, host: opts.host, rendererDir, token: opts.token });
      process.stdout.write(`brainsynth serve: home ${bridge.services.home.root}\n`);
      process.stdout.write(`brainsynth serve: listening on ${bridge.url}\n`);
      await new Promise<void>((resolveStop) => {
        const stop = (signal: NodeJS.Signals) => {
          process.stdout.write(`brainsynth serve: ${signal}, shutting down\n`);
          void bridge.close().then(resolveStop);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
