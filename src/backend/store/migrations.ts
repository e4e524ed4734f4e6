/**
 * Versioned schema migrations for the experiment store (PRAGMA user_version).
 * Migration N takes the database from user_version N-1 to N. Never edit a shipped
 * migration: append a new one. The store refuses databases whose user_version is
 * higher than MIGRATIONS.length (written by a newer brainsynth).
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema: datasets, subjects, volumes, experiments, runs, metrics, checkpoints, artefacts',
    sql: `
CREATE TABLE datasets (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  kind          TEXT NOT NULL CHECK (kind IN ('imported', 'phantom', 'downloaded')),
  source        TEXT,                 -- folder, URL or generator description
  attribution   TEXT,                 -- licence / citation text shown wherever images are shown
  synthetic     INTEGER NOT NULL DEFAULT 0,
  grid          TEXT,                 -- recognised MNI grid id, e.g. 'fsl-mni152-1mm'
  normalisation TEXT,                 -- 'minmax' (reference) | 'percentile' | NULL before prepare
  prepared      TEXT,                 -- JSON: slice preset, split, seed, cache path, counts
  warnings      TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
  created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE subjects (
  id          INTEGER PRIMARY KEY,
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  label       TEXT NOT NULL,          -- e.g. 'sub-patient19'
  session     TEXT,                   -- e.g. 'ses-01' or NULL
  split       TEXT CHECK (split IN ('train', 'validation', 'test')),
  UNIQUE (dataset_id, label, session)
);

CREATE TABLE volumes (
  id          INTEGER PRIMARY KEY,
  subject_id  INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
  modality    TEXT NOT NULL CHECK (modality IN ('FLAIR', 'T1w', 'lesion_mask', 'brain_mask', 'template', 'generated')),
  path        TEXT NOT NULL,
  dims        TEXT NOT NULL,          -- JSON [nx, ny, nz]
  pixdim      TEXT NOT NULL,          -- JSON [dx, dy, dz]
  affine      TEXT NOT NULL,          -- JSON 4x4 voxel-to-world (row-major)
  orientation TEXT,                   -- axis codes, e.g. 'LAS'
  datatype    TEXT,
  sha256      TEXT,
  checks      TEXT NOT NULL DEFAULT '{}', -- JSON: grid match, NaN count, range, notes
  UNIQUE (subject_id, modality)
);

CREATE TABLE experiments (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
  dataset_id    INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
  name          TEXT,
  stage         TEXT NOT NULL CHECK (stage IN ('autoencoder', 'ldm', 'controlnet', 'evaluation')),
  status        TEXT NOT NULL DEFAULT 'created'
                CHECK (status IN ('created', 'queued', 'running', 'completed', 'failed', 'cancelled')),
  config        TEXT NOT NULL DEFAULT '{}', -- JSON
  backend       TEXT,
  seed          INTEGER,
  error         TEXT,
  created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  started_at    TEXT,
  finished_at   TEXT,
  updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX runs_stage_status ON runs(stage, status);

-- Parent links (LDM -> autoencoder, ControlNet -> LDM, evaluation -> ControlNet).
CREATE TABLE run_parents (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  parent_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE RESTRICT,
  role      TEXT NOT NULL,            -- 'autoencoder' | 'ldm' | 'controlnet'
  PRIMARY KEY (run_id, parent_id)
);

CREATE TABLE metrics (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step      INTEGER NOT NULL,
  epoch     INTEGER,
  split     TEXT NOT NULL DEFAULT 'train',
  name      TEXT NOT NULL,
  value     REAL NOT NULL,
  wall_time REAL NOT NULL,            -- seconds since the epoch
  PRIMARY KEY (run_id, name, split, step)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind       TEXT NOT NULL DEFAULT 'last', -- 'last' | 'best' | 'final' | 'imported'
  path       TEXT NOT NULL,
  step       INTEGER NOT NULL,
  epoch      INTEGER,
  sha256     TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX checkpoints_run ON checkpoints(run_id, kind);

CREATE TABLE artefacts (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER REFERENCES runs(id) ON DELETE CASCADE,
  dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
  kind       TEXT NOT NULL,           -- 'image' | 'volume' | 'curve' | 'table' | ...
  path       TEXT NOT NULL,
  step       INTEGER,
  meta       TEXT NOT NULL DEFAULT '{}', -- JSON
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX artefacts_run ON artefacts(run_id, kind);
`,
  },
  {
    version: 2,
    description: 'runs.cancel_requested: cancel a training job from any process (polled by the job runner)',
    sql: `ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    version: 3,
    description: 'metric_summaries: last/min/max per (run, name, split), kept by MetricsService so listings need not scan metrics',
    sql: `
CREATE TABLE metric_summaries (
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  split      TEXT NOT NULL,
  count      INTEGER NOT NULL,
  last_step  INTEGER NOT NULL,
  last_value REAL NOT NULL,
  min_step   INTEGER NOT NULL,
  min_value  REAL NOT NULL,
  max_step   INTEGER NOT NULL,
  max_value  REAL NOT NULL,
  PRIMARY KEY (run_id, name, split)
) WITHOUT ROWID;

-- Backfill. SQLite fills the bare column (step/value) from the row holding the min()/max().
INSERT INTO metric_summaries
SELECT l.run_id, l.name, l.split, l.n, l.step, l.value, lo.step, lo.value, hi.step, hi.value
FROM (SELECT run_id, name, split, count(*) AS n, max(step) AS step, value FROM metrics GROUP BY run_id, name, split) AS l
JOIN (SELECT run_id, name, split, min(value) AS value, step FROM metrics GROUP BY run_id, name, split) AS lo USING (run_id, name, split)
JOIN (SELECT run_id, name, split, max(value) AS value, step FROM metrics GROUP BY run_id, name, split) AS hi USING (run_id, name, split);
`,
  },
  {
    version: 4,
    description: 'volume paths and prepared-cache folders inside the home stored relative to it (a moved or copied home keeps reading its own files)',
    // brainsynth_home_relative is registered by openStore (home-paths.ts).
    sql: `
UPDATE volumes SET path = brainsynth_home_relative(path);
UPDATE datasets SET prepared = json_set(prepared, '$.cacheDir', brainsynth_home_relative(json_extract(prepared, '$.cacheDir')))
WHERE prepared IS NOT NULL AND json_valid(prepared) AND json_type(prepared, '$.cacheDir') = 'text';
`,
  },
  {
    version: 5,
    description: 'checkpoint and artefact paths, and path fields of run configs, inside the home stored relative to it (a moved or copied home resumes from and shows its own files)',
    // brainsynth_home_relative is registered by openStore (home-paths.ts).
    sql: `
UPDATE checkpoints SET path = brainsynth_home_relative(path);
UPDATE artefacts SET path = brainsynth_home_relative(path);
UPDATE runs SET config = json_set(config, '$.ldm.contextFile', brainsynth_home_relative(json_extract(config, '$.ldm.contextFile')))
WHERE CASE WHEN json_valid(config) THEN json_type(config, '$.ldm.contextFile') = 'text' ELSE 0 END;
UPDATE runs SET config = json_set(config, '$.autoencoder.perceptualNetwork', brainsynth_home_relative(json_extract(config, '$.autoencoder.perceptualNetwork')))
WHERE CASE WHEN json_valid(config) THEN json_type(config, '$.autoencoder.perceptualNetwork') = 'text' ELSE 0 END;
UPDATE runs SET config = json_set(config, '$.cluster.folder', brainsynth_home_relative(json_extract(config, '$.cluster.folder')))
WHERE CASE WHEN json_valid(config) THEN json_type(config, '$.cluster.folder') = 'text' ELSE 0 END;
`,
  },
  {
    version: 6,
    description: 'runs.notes and runs.tags: free-text notes and short labels the researcher attaches to a run',
    sql: `
ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'; -- JSON array of normalised tags
`,
  },
];
