import type { Experiment } from '../../shared/contract';
import type { Store } from '../store';
import { ExperimentsRepository, type ExperimentRow } from '../store/experiments';
import { ConflictError, NotFoundError } from '../errors';

const toExperiment = (r: ExperimentRow): Experiment => ({
  id: r.id,
  name: r.name,
  description: r.description,
  createdAt: r.created_at,
  runCount: r.run_count,
});

/** Named groups of runs (e.g. "ablation: latent scale"). */
export class ExperimentsService {
  private readonly repo: ExperimentsRepository;

  constructor(private readonly store: Store) {
    this.repo = new ExperimentsRepository(store);
  }

  create(input: { name: string; description?: string }): Experiment {
    return this.store.transaction(() => {
      if (this.repo.nameExists(input.name)) throw new ConflictError(`an experiment named '${input.name}' already exists`);
      return this.get(this.repo.insert(input.name, input.description ?? null, new Date().toISOString()));
    });
  }

  get(id: number): Experiment {
    const row = this.repo.get(id);
    if (!row) throw new NotFoundError(`experiment ${id} does not exist`);
    return toExperiment(row);
  }

  list(): Experiment[] {
    return this.repo.list().map(toExperiment);
  }
}
