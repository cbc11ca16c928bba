// Admin › Definitions: download the export (saved to EXPORT_TO), then import the file
// IMPORT_FROM and see it acknowledged.
import { basename } from 'node:path';
import { check, run } from './lib.mjs';
import { session } from './admin_lib.mjs';

const { EXPORT_TO, IMPORT_FROM } = process.env;

run(async (context) => {
  const { page, go } = await session(context, 'guest', 'guest');
  await go('admin/definitions');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download broker definitions' }).click(),
  ]);
  check(/^warren_.*\.json$/.test(download.suggestedFilename()), `the download is named ${download.suggestedFilename()}`);
  await download.saveAs(EXPORT_TO);
  await page.getByLabel('Definitions file').setInputFiles(IMPORT_FROM);
  await page.getByRole('button', { name: 'Upload broker definitions' }).click();
  await page.getByText(`Definitions from ${basename(IMPORT_FROM)} imported.`).waitFor();
  check(true, 'the import is acknowledged');
});
