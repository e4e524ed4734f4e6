// Child process for import-hostile.test.ts: imports one folder into a fresh home and reports the
// refusal and this process's peak resident memory, so the test can bound what an import allocates.
import { importDataset } from '../../src/backend/data/datasets';
import { ensureHome, homeLayout } from '../../src/backend/home';
import { openStore } from '../../src/backend/store';

const [homeDir, folder] = process.argv.slice(2) as [string, string];
const home = ensureHome(homeLayout(homeDir));
const store = openStore(home.dbPath);
let problems: string[] = [];
try {
  await importDataset(store, { name: 'bomb', dir: folder });
} catch (err) {
  problems = (err as { problems?: string[] }).problems ?? [(err as Error).message];
}
store.close();
process.stdout.write(JSON.stringify({ problems, maxRssMiB: process.resourceUsage().maxRSS / 1024 }) + '\n');
