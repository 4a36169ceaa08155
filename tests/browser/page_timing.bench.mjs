// Timings of the demo page in headless Chromium (issue #6): first load
// (weights streamed from the local server into an empty profile) to the
// first S2M mask, reload (weights from Cache Storage) to the first mask,
// and the time per further frame; with the bytes the first load
// downloaded. Not a test: `cargo xtask bench-page` runs it and writes the
// figures to target/page-timing.json. The page runs with its default
// compute choice (auto: WebGPU on a hardware adapter, else the CPU).
//
// Usage: node page_timing.bench.mjs http://127.0.0.1:PORT/ SCENE_DIR OUT_JSON
// SCENE_DIR holds scene-NNN.png and scene-000.npy (`s2m synthesize`); the
// score map of scene 0 stays loaded for the later frames (same size), so
// every frame runs the same stages: SAM encoder, generator, one SAM
// decoding per box.

import { launchChromium } from './chromium.mjs';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [base, scene, out] = process.argv.slice(2);
const frames = readdirSync(scene).filter((f) => /^scene-\d+\.png$/.test(f)).sort();

const browser = await launchChromium();
const page = await browser.newPage();
let downloaded = 0;
// Bytes that came over the network (a response from the HTTP cache counts
// nothing; a streamed body is not kept for r.body(), so the transfer sizes).
page.on('requestfinished', async (request) => {
  try { downloaded += (await request.sizes()).responseBodySize; } catch { /* aborted */ }
});
page.on('console', (m) => { if (m.text().startsWith('s2m:')) console.log(`  [page] ${m.text()}`); });

async function waitForState(states, timeout) {
  await page.waitForFunction(
    (s) => s.includes(document.querySelector('#status')?.dataset.state),
    states,
    { timeout, polling: 250 },
  );
  return page.$eval('#status', (el) => [el.dataset.state, el.textContent]);
}

async function expectState(states, timeout) {
  const [state, text] = await waitForState(states, timeout);
  if (state === 'error') throw new Error(text);
  return text;
}

// Seconds from choosing `frame` to the page's S2M result for it (the run's
// own result: the status element may still show the last run's for a tick).
async function segment(frame) {
  await page.evaluate(() => { window.s2mPreviousResult = window.s2mLastResult; });
  const started = Date.now();
  await page.setInputFiles('#image-input', join(scene, frame));
  await page.waitForFunction(
    () => window.s2mLastResult !== window.s2mPreviousResult || document.querySelector('#status')?.dataset.state === 'error',
    null,
    { timeout: 1_800_000, polling: 250 },
  );
  const text = await expectState(['done', 'error'], 10_000);
  const seconds = (Date.now() - started) / 1000;
  const timings = await page.$eval('#timings', (el) => el.textContent);
  console.log(`${frame}: ${seconds.toFixed(1)} s (${text}; ${timings})`);
  return { frame, seconds, stages: timings };
}

const figures = { command: process.argv.join(' '), frames: [] };

let started = Date.now();
await page.goto(base);
// What the page says when ready includes where the models run (the CPU on
// a software adapter or without WebGPU, by default).
figures.ready_message = await expectState(['ready', 'error'], 600_000);
figures.first_load_ready_seconds = (Date.now() - started) / 1000;
figures.first_load_bytes = downloaded;
await page.setInputFiles('#score-map-input', join(scene, 'scene-000.npy'));
await expectState(['ready', 'error'], 60_000);
const first = await segment(frames[0]);
figures.first_load_to_first_mask_seconds = (Date.now() - started) / 1000;
figures.frames.push(first);

started = Date.now();
downloaded = 0;
await page.reload();
await expectState(['ready', 'error'], 600_000);
figures.reload_ready_seconds = (Date.now() - started) / 1000;
await page.setInputFiles('#score-map-input', join(scene, 'scene-000.npy'));
await expectState(['ready', 'error'], 60_000);
figures.frames.push(await segment(frames[0]));
figures.reload_to_first_mask_seconds = (Date.now() - started) / 1000;
figures.reload_bytes = downloaded;

for (const frame of frames.slice(1)) figures.frames.push(await segment(frame));
const later = figures.frames.slice(2).map((f) => f.seconds);
figures.seconds_per_further_frame = later.length ? later.reduce((a, b) => a + b) / later.length : null;

await browser.close();
writeFileSync(out, JSON.stringify(figures, null, 2) + '\n');
console.log(JSON.stringify(figures, null, 2));
