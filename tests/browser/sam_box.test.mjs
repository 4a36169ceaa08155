// Browser end-to-end test of the demo page (issue #2): the page loads the
// MobileSAM weights from the local server, runs on WebGPU (SwiftShader in
// headless Chromium), and a box drawn around the object of
// tests/fixtures/road_1024x576.png gives a mask with IoU >= 0.9 against the
// object's exact mask. Also: a corrupt file gives an error message, and the
// page requests nothing outside the served origin.
//
// Usage: node sam_box.test.mjs http://127.0.0.1:PORT/ ARTIFACT_DIR
// The server (cargo xtask) serves dist/ at /, weights/ at /weights/ and
// tests/fixtures/ at /fixtures/.

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const base = process.argv[2];
const artifacts = process.argv[3] ?? 'browser-artifacts';
mkdirSync(artifacts, { recursive: true });
const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const origin = new URL(base).origin;

const results = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--enable-unsafe-webgpu',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--disable-quic',
  ],
  // playwright gives every launch a fresh, empty profile.
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const foreign = [];
page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) foreign.push(r.url()); });
page.on('console', (m) => { if (m.type() === 'error') console.log(`  [page] ${m.text()}`); });
page.on('pageerror', (e) => console.log(`  [page error] ${e}`));

async function waitForState(states, timeout) {
  await page.waitForFunction(
    (s) => s.includes(document.querySelector('#status')?.dataset.state),
    states,
    { timeout, polling: 500 },
  );
  return page.$eval('#status', (el) => [el.dataset.state, el.textContent]);
}

await check('page loads the weights and starts WebGPU', async () => {
  await page.goto(base);
  const [state, text] = await waitForState(['ready', 'error'], 300_000);
  await page.screenshot({ path: join(artifacts, '1-ready.png') });
  if (state !== 'ready') throw new Error(`status: ${text}`);
  const bytes = await page.$eval('#weights-bytes', (el) => el.textContent);
  console.log(`  weights: ${bytes}`);
});

await check('a drawn box gives the mask of the object (IoU >= 0.9)', async () => {
  await page.setInputFiles('#image-input', join(fixtures, 'road_1024x576.png'));
  const [state, text] = await waitForState(['image', 'error'], 60_000);
  if (state !== 'image') throw new Error(`status: ${text}`);
  // Drag from (630, 390) to (780, 500) in image pixels.
  const r = await page.$eval('#view', (c) => { const b = c.getBoundingClientRect(); return { x: b.left, y: b.top, sx: b.width / c.width, sy: b.height / c.height }; });
  const at = (x, y) => [r.x + x * r.sx, r.y + y * r.sy];
  await page.mouse.move(...at(630, 390));
  await page.mouse.down();
  await page.mouse.move(...at(700, 450), { steps: 5 });
  await page.mouse.move(...at(780, 500), { steps: 5 });
  await page.mouse.up();
  const started = Date.now();
  const [done, message] = await waitForState(['done', 'error'], 900_000);
  console.log(`  first mask after ${((Date.now() - started) / 1000).toFixed(1)} s: ${message}`);
  await page.screenshot({ path: join(artifacts, '2-mask.png') });
  if (done !== 'done') throw new Error(`status: ${message}`);
  const iou = await page.evaluate(async () => {
    const result = window.s2mLastResult;
    const img = new Image();
    img.src = '/fixtures/road_1024x576_object_mask.png';
    await img.decode();
    const c = document.createElement('canvas');
    c.width = result.width; c.height = result.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const truth = ctx.getImageData(0, 0, c.width, c.height).data;
    let inter = 0, union = 0;
    for (let i = 0; i < result.mask.length; i++) {
      const a = result.mask[i] === 1, b = truth[i * 4] > 127;
      if (a && b) inter++;
      if (a || b) union++;
    }
    return union ? inter / union : 0;
  });
  console.log(`  IoU with the object's mask: ${iou.toFixed(4)}`);
  if (!(iou >= 0.9)) throw new Error(`IoU ${iou}`);
});

await check('a corrupt file gives an error message, not a broken page', async () => {
  const corrupt = join(mkdtempSync(join(tmpdir(), 's2m-corrupt-')), 'broken.png');
  writeFileSync(corrupt, Buffer.from('this is not an image at all'));
  await page.setInputFiles('#image-input', corrupt);
  const [state, text] = await waitForState(['error'], 60_000);
  await page.screenshot({ path: join(artifacts, '3-corrupt.png') });
  if (!text.includes('broken.png')) throw new Error(`message does not name the file: ${text}`);
  // The page still works afterwards.
  await page.setInputFiles('#image-input', join(fixtures, 'road_1024x576.png'));
  const [after] = await waitForState(['image', 'error'], 60_000);
  if (after !== 'image') throw new Error('the page did not recover');
});

await check('no request leaves the served origin', async () => {
  if (foreign.length) throw new Error(`requests outside ${origin}: ${foreign.join(', ')}`);
});

await browser.close();
const passed = results.filter(([, ok]) => ok).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
