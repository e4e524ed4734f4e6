import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { CURRENT_SCHEMA_VERSION, openStore, StoreOpenError } from '../../src/backend/store';
import { MIGRATIONS } from '../../src/backend/store/migrations';
import { resolveHome, homeLayout } from '../../src/backend/home';
import { tempHome } from './helpers';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function home() {
  const h = tempHome();
  cleanups.push(h.cleanup);
  return h.dir;
}
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('openStore', () => {
  it('creates a new database with WAL, foreign keys and every migration applied', () => {
    const path = join(home(), 'brainsynth.db');
    const store = openStore(path);
    cleanups.unshift(() => store.close());
    expect(store.schemaVersion).toBe(CURRENT_SCHEMA_VERSION);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
    const tables = (store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    for (const t of ['datasets', 'subjects', 'volumes', 'experiments', 'runs', 'run_parents', 'metrics', 'checkpoints', 'artefacts']) {
      expect(tables).toContain(t);
    }
  });

  it('reopening is idempotent and keeps data', () => {
    const path = join(home(), 'brainsynth.db');
    const a = openStore(path);
    a.db.prepare("INSERT INTO runs (stage) VALUES ('ldm')").run();
    a.close();
    const b = openStore(path);
    expect(b.schemaVersion).toBe(CURRENT_SCHEMA_VERSION);
    expect(b.db.prepare('SELECT count(*) AS n FROM runs').get()).toEqual({ n: 1 });
    b.close();
  });

  it('upgrades an older database one migration at a time, each in its own transaction', () => {
    const path = join(home(), 'brainsynth.db');
    const v1 = openStore(path, { migrations: MIGRATIONS.slice(0, 1) });
    v1.db.prepare("INSERT INTO runs (stage) VALUES ('autoencoder')").run();
    v1.close();
    const extra = [...MIGRATIONS, { version: MIGRATIONS.length + 1, description: 'test: extra column', sql: 'ALTER TABLE runs ADD COLUMN test_extra TEXT;' }];
    const v2 = openStore(path, { migrations: extra });
    expect(v2.schemaVersion).toBe(MIGRATIONS.length + 1);
    expect(v2.db.prepare('SELECT stage, notes, tags, test_extra FROM runs').get()).toEqual({ stage: 'autoencoder', notes: '', tags: '[]', test_extra: null });
    v2.close();
  });

  it('a failing migration leaves the database at the previous version', () => {
    const path = join(home(), 'brainsynth.db');
    openStore(path).close();
    const broken = [...MIGRATIONS, { version: MIGRATIONS.length + 1, description: 'broken', sql: 'CREATE TABLE half (a); SELECT * FROM no_such_table;' }];
    expect(() => openStore(path, { migrations: broken })).toThrow(new RegExp(`migration ${MIGRATIONS.length + 1} \\(broken\\) failed`));
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(CURRENT_SCHEMA_VERSION);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'").get()).toEqual({ n: 0 });
    db.close();
  });

  it('refuses a database from a newer schema version and leaves it byte-identical', () => {
    const dir = home();
    const path = join(dir, 'brainsynth.db');
    const future = new Database(path);
    future.pragma('journal_mode = WAL');
    future.exec('CREATE TABLE future_things (x)');
    future.pragma(`user_version = ${CURRENT_SCHEMA_VERSION + 5}`);
    future.close();
    const before = sha(path);
    const filesBefore = readdirSync(dir).sort();
    const err = (() => {
      try {
        openStore(path);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(StoreOpenError);
    expect(String((err as Error).message)).toContain(path);
    expect(String((err as Error).message)).toMatch(/schema version \d+ is newer than this brainsynth understands/);
    expect(sha(path)).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(filesBefore); // no -wal/-shm left beside it either
  });

  it('refuses a newer database even while its WAL holds the version bump', () => {
    const dir = home();
    const path = join(dir, 'brainsynth.db');
    const writer = new Database(path);
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0'); // keep the bump in the -wal file
    writer.exec('CREATE TABLE t (x)');
    writer.pragma(`user_version = ${CURRENT_SCHEMA_VERSION + 1}`);
    expect(existsSync(`${path}-wal`)).toBe(true);
    const before = sha(path);
    expect(() => openStore(path)).toThrow(/newer than this brainsynth understands/);
    expect(sha(path)).toBe(before);
    writer.close();
  });

  it('refuses a file that is not SQLite, naming it', () => {
    const path = join(home(), 'brainsynth.db');
    writeFileSync(path, 'this is a CSV file, not a database\n'.repeat(10));
    const before = sha(path);
    expect(() => openStore(path)).toThrow(new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not an SQLite database`));
    expect(sha(path)).toBe(before);
  });
});

describe('resolveHome', () => {
  it('prefers --home, then BRAINSYNTH_HOME, then the per-user data folder', () => {
    expect(resolveHome({ home: '/x/h', env: { BRAINSYNTH_HOME: '/y' } })).toBe('/x/h');
    expect(resolveHome({ env: { BRAINSYNTH_HOME: '/y' } })).toBe('/y');
    expect(resolveHome({ env: { XDG_DATA_HOME: '/d' }, platform: 'linux', userHome: '/u' })).toBe('/d/brainsynth');
    expect(resolveHome({ env: {}, platform: 'linux', userHome: '/u' })).toBe('/u/.local/share/brainsynth');
    expect(resolveHome({ env: {}, platform: 'darwin', userHome: '/u' })).toBe('/u/Library/Application Support/brainsynth');
    expect(resolveHome({ env: { APPDATA: 'C:/Users/u/AppData/Roaming' }, platform: 'win32', userHome: '/u' })).toMatch(/Roaming[\\/]brainsynth$/);
  });

  it('lays out database, runs and datasets inside the home', () => {
    const layout = homeLayout('/h');
    expect(layout.dbPath).toBe('/h/brainsynth.db');
    expect(layout.runDir(7)).toBe('/h/runs/7');
    expect(layout.datasetDir(3)).toBe('/h/datasets/3');
  });
});
