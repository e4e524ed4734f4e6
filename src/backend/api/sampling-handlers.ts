/**
 * IPC handlers of the sampling channels ('generate.*', 'evaluate.*' in src/shared/contract.ts),
 * spread into the handler table by handlers.ts. Values that JSON cannot carry
 * (NaN for an empty lesion region, +Infinity PSNR for identical images) go out as null.
 */
import type { Handler } from './handler-types';
import { InvalidInputError } from '../errors';
import type { Services } from '../index';

type SamplingChannel =
  | 'generate.slice'
  | 'generate.sliceSignal'
  | 'generate.volume'
  | 'generate.result'
  | 'generate.save'
  | 'generate.cancel'
  | 'generate.jobs'
  | 'generate.artefactData'
  | 'evaluate.start'
  | 'evaluate.results'
  | 'evaluate.compare'
  | 'evaluate.exportCsv';

/** A deep copy with every non-finite number replaced by null (typed for the contract's nullable numbers). */
function wire<T>(value: T): never {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as never;
}

export function samplingHandlers(s: Services): { [C in SamplingChannel]: Handler<C> } {
  const svc = () => s.sampling;
  return {
    'generate.slice': (req) => svc().generate.slice(req),
    'generate.sliceSignal': (req) => svc().generate.sliceSignal(req),
    'generate.volume': (req) => {
      // The window may only name a NIfTI to read; what gets written stays inside the run's folder.
      if (req.outPath !== undefined) throw new InvalidInputError('outPath cannot be chosen from the app window; the volume is written to the run folder (translations/) and listed as an artefact');
      if (req.flairPath !== undefined && !/\.nii(\.gz)?$/i.test(req.flairPath)) throw new InvalidInputError(`flairPath ${req.flairPath}: expected a .nii or .nii.gz file`);
      return svc().generate.volume(req);
    },
    'generate.result': (req) => wire(svc().generate.result(req.jobId)),
    'generate.save': (req) => ({ artefacts: svc().generate.save(req.jobId) }),
    'generate.cancel': (req) => wire(svc().generate.cancel(req.jobId)),
    'generate.jobs': () =>
      wire({
        jobs: svc()
          .host.list()
          .map((j) => ({ jobId: j.id, kind: j.kind, runId: j.runId, state: j.state, progress: j.progress, backend: j.backend, error: j.error })),
      }),
    'generate.artefactData': (req) => svc().generate.artefactData(req.artefactId),
    'evaluate.start': (req) => svc().evaluate.start(req),
    'evaluate.results': ({ runId, ...opts }) => wire(svc().evaluate.results(runId, opts)),
    'evaluate.compare': (req) => wire({ results: svc().evaluate.compare(req.runIds, req.split) }),
    'evaluate.exportCsv': (req) => {
      const r = svc().evaluate.exportCsv(req.runIds, { split: req.split, kind: req.kind });
      return { csv: r.csv, rows: r.rows };
    },
  };
}
