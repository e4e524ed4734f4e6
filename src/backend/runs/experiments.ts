import type { Experiment } from '../../shared/contract';
import type { Store } from '../store';
import { ConflictError, NotFoundError } from '../errors';

interface ExperimentRow {
  id: number;
  name: string;
  description: string | null;
  created_at: string;
  run_count: number;
}

const toExperiment = (r: ExperimentRow): Experiment => ({
  id: r.id,
  name: r.name,
  description: r.description,
  createdAt: r.created_at,
  runCount: r.run_count,
});

const SELECT = `SELECT e.*, (SELECT count(*) FROM runs r WHERE r.experiment_id = e.id) AS run_count FROM experiments e`;

/** Named groups of runs (e.g. "ablation: latent scale"). */
export class ExperimentsService {
  constructor(private readonly store: Store) {}

  create(input: { name: string; description?: string }): Experiment {
    const db = this.store.db;
    return this.store.transaction(() => {
      if (db.prepare('SELECT 1 FROM experiments WHERE name = ?').get(input.name)) {
        throw new ConflictError(`an experiment named '${input.name}' already exists`);
      }
      const info = db
        .prepare('INSERT INTO experiments (name, description, created_at) VALUES (?, ?, ?)')
        .run(input.name, input.description ?? null, new Date().toISOString());
      return this.get(Number(info.lastInsertRowid));
    });
  }

  get(id: number): Experiment {
    const row = this.store.db.prepare(`${SELECT} WHERE e.id = ?`).get(id) as ExperimentRow | undefined;
    if (!row) throw new NotFoundError(`experiment ${id} does not exist`);
    return toExperiment(row);
  }

  list(): Experiment[] {
    return (this.store.db.prepare(`${SELECT} ORDER BY e.id DESC`).all() as ExperimentRow[]).map(toExperiment);
  }
}
