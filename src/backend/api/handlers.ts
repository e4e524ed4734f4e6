import { z } from 'zod';
import {
  channels,
  isChannelName,
  type AppInfo,
  type ChannelName,
  type Envelope,
  type WireError,
} from '../../shared/contract';
import type { Services } from '..';
import type { Handler, HandlerTable } from './handler-types';
import { ServiceError } from '../errors';
import { samplingHandlers } from './sampling-handlers';
import { APP_NAME, APP_VERSION } from './app-meta';
import { datasetDetail } from '../data/dataset-detail';
import { volumeFile, volumePath } from '../data/volume-files';
import { APP_ORIGIN } from './security-policy';
import { parentCandidates, trainForm } from '../training/train-form';
import { clusterHandlers } from '../cluster/handlers';
import { deleteRun } from '../runs/delete-run';

/**
 * Channel -> implementation. Every contract channel must have exactly one handler here (the
 * HandlerTable type makes a missing one a compile error), and every call goes through
 * `dispatch`, which validates the request before the handler runs and the response after.
 */
export type { Handler, HandlerTable } from './handler-types';

export interface HandlerContext {
  services: Services;
  host: AppInfo['host'];
}

export function createHandlers({ services: s, host }: HandlerContext): HandlerTable {
  return {
    'app.info': () => ({
      name: APP_NAME,
      version: APP_VERSION,
      home: s.home.root,
      dbPath: s.home.dbPath,
      schemaVersion: s.store.schemaVersion,
      platform: process.platform,
      nodeVersion: process.versions.node,
      host,
      // Only Electron main replaces app.pickFolder with a native dialog (src/main).
      canPickFolder: host === 'electron',
    }),
    'app.pickFolder': () => ({ supported: false, path: null }),

    'experiments.list': () => ({ experiments: s.experiments.list() }),
    'experiments.create': (req) => s.experiments.create(req),

    'runs.list': (req) => s.runs.list(req),
    'runs.get': (req) => s.runs.get(req.id),
    'runs.create': (req) => s.runs.create(req),
    'runs.update': (req) => s.runs.update(req),
    'runs.summary': (req) => ({ runId: req.runId, metrics: s.metrics.summary(req.runId) }),
    'runs.delete': (req) => deleteRun({ store: s.store, runs: s.runs, runDir: s.home.runDir }, req.id),

    'metrics.append': (req) => ({ appended: s.metrics.append(req.runId, req.points) }),
    'metrics.query': ({ runId, ...query }) => ({ runId, series: s.metrics.query(runId, query) }),

    'checkpoints.list': (req) => ({ checkpoints: s.checkpoints.list(req.runId) }),
    'artefacts.list': (req) => ({ artefacts: s.artefacts.list(req) }),

    'jobs.start': (req) => s.training.start(req),
    'jobs.cancel': (req) => s.training.cancel(req.id),
    'jobs.resume': (req) => s.training.resume(req.id),
    'jobs.list': () => ({ jobs: s.training.list() }),
    'jobs.all': () => ({ jobs: s.host.list() }),
    'jobs.cancelJob': (req) => s.host.cancel(req.jobId),
    'jobs.config': (req) => s.training.previewConfig(req),
    'train.validate': (req) => trainForm(s, req),
    'train.parents': (req) => parentCandidates(s, req.stage, req.datasetId),
    'train.estimate': (req) => s.estimates.estimate(req),
    ...samplingHandlers(s),

    'datasets.list': () => ({ datasets: s.datasets.list() }),
    'datasets.get': (req) => s.datasets.get(req.id),
    'datasets.detail': (req) => datasetDetail(s.store.db, req.id),
    'datasets.volumeUrl': (req) => {
      const v = volumeFile(s.store.db, req.volumeId);
      const path = volumePath(v.id, v.fileName);
      return host === 'electron' ? { url: APP_ORIGIN + path, fileName: v.fileName, needsToken: false } : { url: path, fileName: v.fileName, needsToken: true };
    },
    'datasets.import': (req) => s.dataJobs.submit({ kind: 'import', ...req }),
    'datasets.phantom': (req) => s.dataJobs.submit({ kind: 'phantom', ...req }),
    'datasets.prepare': ({ id, ...rest }) => s.dataJobs.submit({ kind: 'prepare', datasetId: id, ...rest }),
    'datasets.fetchOpenMs': (req) => s.dataJobs.submit({ kind: 'fetch-open-ms', ...req }),
    'datasets.jobs': () => ({ jobs: s.dataJobs.list() }),

    ...clusterHandlers(s),
  };
}

function issuesOf(error: z.ZodError): NonNullable<WireError['issues']> {
  return error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join('.') : '(payload)',
    message: issue.message,
  }));
}

function fail(error: WireError): Envelope<never> {
  return { ok: false, error };
}

export type Dispatch = (channel: unknown, payload: unknown) => Promise<Envelope>;

/**
 * Validates and routes one call. Never throws: every outcome is an Envelope, so Electron IPC and
 * the WebSocket bridge report errors identically. A malformed request never reaches a handler,
 * so nothing is written.
 */
export function createDispatch(handlers: HandlerTable, log: (message: string) => void = console.error): Dispatch {
  return async (channel, payload) => {
    if (!isChannelName(channel)) {
      return fail({
        code: 'unknown_channel',
        channel: typeof channel === 'string' ? channel : undefined,
        message: `unknown channel ${JSON.stringify(channel)}; known channels: ${Object.keys(channels).join(', ')}`,
      });
    }
    const spec = channels[channel];
    const parsed = spec.request.safeParse(payload ?? {});
    if (!parsed.success) {
      const issues = issuesOf(parsed.error);
      return fail({
        code: 'invalid_request',
        channel,
        issues,
        message: `${channel}: invalid request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      });
    }
    let result: unknown;
    try {
      result = await (handlers[channel] as Handler<ChannelName>)(parsed.data as never);
    } catch (err) {
      if (err instanceof ServiceError) return fail({ code: err.code, channel, message: `${channel}: ${err.message}` });
      const message = err instanceof Error ? err.message : String(err);
      log(`brainsynth: ${channel} failed: ${err instanceof Error && err.stack ? err.stack : message}`);
      return fail({ code: 'failed', channel, message: `${channel}: ${message}` });
    }
    const checked = spec.response.safeParse(result);
    if (!checked.success) {
      // A handler broke the contract: a bug on our side, reported rather than passed on.
      const issues = issuesOf(checked.error);
      log(`brainsynth: ${channel} returned a response that breaks the contract: ${JSON.stringify(issues)}`);
      return fail({ code: 'invalid_response', channel, issues, message: `${channel}: internal error: response does not match the contract` });
    }
    return { ok: true, data: checked.data };
  };
}
