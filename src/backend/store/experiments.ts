import type { Store } from '.';

export interface ExperimentRow {
  id: number;
  name: string;
  description: string | null;
  created_at: string;
  run_count: number;
}

const SELECT = `SELECT e.*, (SELECT count(*) FROM runs r WHERE r.experiment_id = e.id) AS run_count FROM experiments e`;

/** SQL of the experiments table. */
export class ExperimentsRepository {
  constructor(private readonly store: Store) {}

  nameExists(name: string): boolean {
    return this.store.db.prepare('SELECT 1 FROM experiments WHERE name = ?').get(name) !== undefined;
  }

  insert(name: string, description: string | null, createdAt: string): number {
    const info = this.store.db.prepare('INSERT INTO experiments (name, description, created_at) VALUES (?, ?, ?)').run(name, description, createdAt);
    return Number(info.lastInsertRowid);
  }

  get(id: number): ExperimentRow | undefined {
    return this.store.db.prepare(`${SELECT} WHERE e.id = ?`).get(id) as ExperimentRow | undefined;
  }

  list(): ExperimentRow[] {
    return this.store.db.prepare(`${SELECT} ORDER BY e.id DESC`).all() as ExperimentRow[];
  }
}
