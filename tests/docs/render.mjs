#!/usr/bin/env node
// Loads the API reference that memdbd serves at GET /docs in headless
// Chromium (Debian's /usr/bin/chromium, driven by playwright-core from
// tools/node_modules) and checks that it renders: the endpoint list of
// every tag of swagger/openapi.yaml, the upload and wordcount operations
// with their paths, and no request to a host other than the node.  Saves a
// screenshot.  Prints TAP.
//
//   node tests/docs/render.mjs MEMDBD SCREENSHOT.png
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(new URL('../../tools/package.json',
                                      import.meta.url));
const { chromium } = require('playwright-core');
const YAML = require('yaml');

const [memdbd, shot] = process.argv.slice(2);
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu',
  '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const PLAN = 6;
let n = 0, failed = 0;
console.log(`1..${PLAN}`);
function ok(cond, name, diags = []) {
  n++;
  if (!cond)
    failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  for (const d of diags)
    console.log(`# ${String(d).replace(/\n/g, '\n# ')}`);
  return cond;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const reEsc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const dir = mkdtempSync(join(tmpdir(), 'memdb-docs-'));
const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
writeFileSync(join(dir, 'memdb.yaml'), [
  'node:', '  id: docs', `  data_dir: ${join(dir, 'data')}`,
  'http:', `  listen: 127.0.0.1:${port}`, '  workers: 1',
  'log:', `  file: ${join(dir, 'memdbd.log')}`,
  `  activity: ${join(dir, 'activity.log')}`,
  'store:', '  max_memory: 64MiB', ''].join('\n'));
const daemon = spawn(memdbd, ['-c', join(dir, 'memdb.yaml')],
                     { detached: true, stdio: 'ignore' });
let browser = null;

async function main() {
  // 1: the node serves the page
  let up = false;
  for (let i = 0; i < 300 && !up; i++) {
    try {
      up = (await fetch(`${origin}/healthz`)).status === 200;
    } catch (e) {
      await sleep(50);
    }
  }
  const res = up ? await fetch(`${origin}/docs`) : null;
  const html = res ? await res.text() : '';
  if (!ok(up && res.status === 200
          && res.headers.get('content-type').startsWith('text/html')
          && html.length > 0,
          `memdbd serves GET /docs (${html.length} bytes)`,
          up ? [] : [readLog()]))
    return;
  const spec = YAML.parse(await (await fetch(`${origin}/openapi.yaml`)).text());
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths))
    for (const [method, op] of Object.entries(item))
      ops.push({ method: method.toUpperCase(), path, tag: op.tags[0],
                 summary: op.summary });
  const tags = spec.tags.map((t) => t.name);

  // 2: it renders in Chromium, with a sidebar entry for each tag
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
                                    args: CHROMIUM_FLAGS });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${origin}/docs`, { waitUntil: 'load' });
  const group = (tag) => page
    .locator('[data-component-name="Menu/MenuItem"].menu-item-type-group')
    .filter({ has: page.getByText(tag, { exact: true }) }).first();
  const opItem = (o) => page
    .locator('[data-component-name="Menu/MenuItem"].menu-item-type-operation')
    .filter({ hasText: o.summary }).first();
  let rendered = true;
  const missingTags = [];
  for (const tag of tags) {
    try {
      await group(tag).waitFor({ timeout: 15000 });
    } catch (e) {
      rendered = false;
      missingTags.push(`no sidebar entry for tag "${tag}"`);
    }
  }
  if (!ok(rendered, `the page renders, with the tags ${tags.join(', ')}`,
          missingTags.concat(errors)))
    return;

  // 3: each tag's page lists its endpoints.  Redoc renders the operations
  // near the one in view, so one far down the tag's list is brought into
  // view from the sidebar first.
  const missing = [];
  const re = (o) => new RegExp(`${o.method}\\s+${reEsc(o.path)}(\\s|$)`);
  const shown = (pats) => page.waitForFunction(
    (ps) => ps.every((p) => new RegExp(p).test(document.body.innerText)),
    pats, { timeout: 10000 }).then(() => true, () => false);
  for (const tag of tags) {
    await group(tag).click();
    const want = ops.filter((o) => o.tag === tag);
    if (await shown(want.map((o) => re(o).source)))
      continue;
    for (const o of want) {
      const text = await page.evaluate(() => document.body.innerText);
      if (re(o).test(text))
        continue;
      if (!await opItem(o).isVisible())
        await group(tag).click();
      await opItem(o).click({ timeout: 10000 }).catch(() => {});
      if (!await shown([re(o).source]))
        missing.push(`tag ${tag}: no "${o.method} ${o.path}"`);
    }
  }
  ok(missing.length === 0,
     `the endpoint list shows all ${ops.length} operations`, missing);

  // 4: an operation's page shows its path
  const opened = [];
  for (const path of ['/api/v1/wordcount', '/api/v1/upload']) {
    const o = ops.find((x) => x.path === path);
    if (!await opItem(o).isVisible())
      await group(o.tag).click();
    await opItem(o).click({ timeout: 10000 });
    try {
      await page.waitForFunction(
        (s) => document.body.innerText.includes(s) &&
               location.hash.length > 1, o.summary, { timeout: 10000 });
      const text = await page.evaluate(() => document.body.innerText);
      if (!text.includes(`${o.method}\n${o.path}`) && !text.includes(o.path))
        opened.push(`${path}: not shown on its page`);
    } catch (e) {
      opened.push(`${path}: its page did not open (${e.message.split('\n')[0]})`);
    }
  }
  ok(opened.length === 0,
     'the pages of /api/v1/wordcount and /api/v1/upload show them', opened);

  // 5: nothing from elsewhere
  const foreign = requests.filter((u) => !(u.startsWith(`${origin}/`)
    || u.startsWith('blob:') || u.startsWith('data:')
    || u.startsWith('about:')));
  ok(foreign.length === 0 && requests.some((u) => u === `${origin}/docs`),
     `no request to another host (${requests.length} requests)`,
     [...new Set(foreign)].slice(0, 20));

  // 6: the screenshot: the endpoint list of the first tag
  await page.evaluate((t) => { location.hash = `#/${t}`; }, tags[0]);
  await page.waitForFunction((p) => location.hash.endsWith(p), `/${tags[0]}`,
                             { timeout: 10000 }).catch(() => {});
  await sleep(300);
  await page.screenshot({ path: shot });
  ok(true, `screenshot in ${shot}`);
}

function readLog() {
  try {
    return readFileSync(join(dir, 'memdbd.log'), 'utf8').slice(-2000);
  } catch (e) {
    return 'no memdbd log';
  }
}

try {
  await main();
} catch (e) {
  ok(false, `unexpected error: ${e.message.split('\n')[0]}`, [e.stack]);
} finally {
  if (browser)
    await browser.close().catch(() => {});
  try {
    process.kill(-daemon.pid, 'SIGTERM');
  } catch (e) { /* gone */ }
  for (let i = 0; i < 100 && daemon.exitCode === null
       && daemon.signalCode === null; i++)
    await sleep(50);
  try {
    process.kill(-daemon.pid, 'SIGKILL');
  } catch (e) { /* gone */ }
  rmSync(dir, { recursive: true, force: true });
  while (n < PLAN)
    ok(false, 'not run');
  process.exit(failed ? 1 : 0);
}
