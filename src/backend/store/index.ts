import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations';
import { registerHomePathFunctions } from '../home-paths';

/**
 * The experiment store: one SQLite file (better-sqlite3) holding datasets, runs, metrics,
 * checkpoints and artefacts. Services receive the Store and use `store.db` directly; every
 * multi-row write they make goes through `store.transaction`.
 */
export interface Store {
  /** The raw connection, for services that prepare their own statements and transactions. */
  readonly db: Database.Database;
  readonly path: string;
  /** PRAGMA user_version after migrations ran. */
  readonly schemaVersion: number;
  /** Runs fn in one IMMEDIATE transaction (all or nothing) and returns its result. */
  transaction<T>(fn: () => T): T;
  /** Moves the write-ahead log into the database file (on a full disk this may free room). */
  checkpointWal(): void;
  close(): void;
}

export interface StoreOptions {
  /** Milliseconds a writer waits for another connection's lock before SQLITE_BUSY (default 5000). */
  busyTimeoutMs?: number;
  /** Open without writing anything: no migrations, no WAL switch. */
  readonly?: boolean;
  /** Overrides the migration list (tests only). */
  migrations?: readonly Migration[];
}

/** Thrown for a database this build cannot use (newer schema, not SQLite, ...). Names the file. */
export class StoreOpenError extends Error {
  constructor(
    readonly dbPath: string,
    message: string,
  ) {
    super(`${dbPath}: ${message}`);
    this.name = 'StoreOpenError';
  }
}

export const CURRENT_SCHEMA_VERSION = MIGRATIONS.length;

function readUserVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * user_version straight from the 100-byte file header (big-endian uint32 at offset 60). Used when
 * there is no -wal file, so the header is authoritative and we need not open SQLite at all (a
 * read-only WAL connection would leave -shm/-wal files beside a database we must not touch).
 */
function headerUserVersion(dbPath: string): number | undefined {
  const fd = openSync(dbPath, 'r');
  try {
    const header = Buffer.alloc(100);
    const n = readSync(fd, header, 0, 100, 0);
    if (n === 0) return 0; // an empty file is an empty database
    if (n < 100 || header.toString('latin1', 0, 16) !== 'SQLite format 3\u0000') return undefined;
    return header.readUInt32BE(60);
  } finally {
    closeSync(fd);
  }
}

/**
 * A newer database is refused before anything can write to it: we read its version through the
 * header or a read-only connection first, so WAL setup and migrations never touch its bytes.
 */
function checkExistingVersion(dbPath: string, known: number): void {
  let version: number | undefined;
  if (!existsSync(`${dbPath}-wal`)) {
    version = headerUserVersion(dbPath);
    if (version === undefined) throw new StoreOpenError(dbPath, 'not an SQLite database (bad file header); refusing to open it');
  } else {
    let probe: Database.Database | undefined;
    try {
      probe = new Database(dbPath, { readonly: true, fileMustExist: true });
      version = readUserVersion(probe);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new StoreOpenError(dbPath, `cannot read as a brainsynth database (${reason})`);
    } finally {
      probe?.close();
    }
  }
  if (version > known) {
    throw new StoreOpenError(
      dbPath,
      `database schema version ${version} is newer than this brainsynth understands (${known}). ` +
        'It was written by a newer release; upgrade brainsynth or choose another --home. The file was not modified.',
    );
  }
}

function migrate(db: Database.Database, dbPath: string, migrations: readonly Migration[]): void {
  const current = readUserVersion(db);
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    // Schema change and version bump commit together, so a crash never leaves a half-migrated file.
    db.transaction(() => {
      try {
        db.exec(migration.sql);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new StoreOpenError(dbPath, `migration ${migration.version} (${migration.description}) failed: ${reason}`);
      }
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}

/**
 * A read-only connection. On a read-only file system SQLite cannot open a WAL database whose
 * -shm file is gone (a clean close removes it), so the file is read into memory instead, marked
 * as a rollback-journal database (header bytes 18-19) so that the copy is readable; commits a
 * crash left in a -wal file are not seen then.
 */
function openReadOnly(dbPath: string): Database.Database {
  const db = new Database(dbPath, { readonly: true });
  try {
    readUserVersion(db);
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_CANTOPEN' || dbPath === ':memory:') throw err;
  }
  const bytes = readFileSync(dbPath);
  if (bytes.length >= 100) bytes.fill(1, 18, 20);
  return new Database(bytes, { readonly: true });
}

export function openStore(dbPath: string, opts: StoreOptions = {}): Store {
  const migrations = opts.migrations ?? MIGRATIONS;
  const known = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  const exists = dbPath !== ':memory:' && existsSync(dbPath);
  if (exists) checkExistingVersion(dbPath, known);
  else if (opts.readonly) throw new StoreOpenError(dbPath, 'database does not exist');

  const db = opts.readonly ? openReadOnly(dbPath) : new Database(dbPath);
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    db.pragma('foreign_keys = ON');
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      // WAL + NORMAL keeps every committed transaction across a process crash (kill -9); only an
      // OS crash/power loss may roll back the last commits. Training appends metrics often, so
      // avoiding an fsync per commit matters.
      db.pragma('synchronous = NORMAL');
      registerHomePathFunctions(db);
      migrate(db, dbPath, migrations);
    }
  } catch (err) {
    db.close();
    throw err;
  }

  const schemaVersion = readUserVersion(db);
  if (opts.readonly && schemaVersion < known) {
    db.close();
    throw new StoreOpenError(dbPath, `database schema version ${schemaVersion} is older than ${known}; open it read-write once to migrate`);
  }

  return {
    db,
    path: dbPath,
    schemaVersion,
    transaction<T>(fn: () => T): T {
      return db.transaction(fn).immediate();
    },
    checkpointWal() {
      db.pragma('wal_checkpoint(TRUNCATE)');
    },
    close() {
      if (db.open) db.close();
    },
  };
}
