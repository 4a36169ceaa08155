// Browser end-to-end test of the demo page (issues #2, #5, #6): the page
// loads MobileSAM and the prompt generator from the local server and runs
// on WebGPU (SwiftShader in headless Chromium). On a synthetic scene
// (`s2m synthesize`: a road picture with pasted objects, the score map a
// scorer would give, the objects' mask) given with its score map, the S2M
// mask reaches IoU >= 0.8 with the objects' mask; a box drawn around one
// object gives its SAM mask (IoU >= 0.85 with that object). Also: a damaged
// weights download is a message and Retry recovers, a reload takes the
// weights from Cache Storage, corrupt images (two chosen at once, stepped
// through) give error messages and a frame dropped on the page with its
// score map (by stem) and a decoy map runs with its own map, a lost GPU
// device is replaced and the page goes on, a GPU out-of-memory error asks
// for a smaller frame, a video file is stepped a
// second at a time (each frame shown at once), a
// browser without WebGPU says so and runs the models on the CPU (IoU >=
// 0.8; so does the widget, which takes the CPU path over SwiftShader)
// while the page stays responsive (the models run in a Web Worker) and
// Stop ends a run, the views (heatmap, plain
// thresholding, IoU against a ground truth) and exports (mask, 16-bit
// confidence, boxes) work, the <s2m-segmenter> widget
// works in a plain page (/widget.html: styles kept apart both ways, events,
// S2M on the scene), and no page requests anything outside the served
// origin.
//
// Usage: node s2m_page.test.mjs http://127.0.0.1:PORT/ ARTIFACT_DIR SCENE_DIR
// The server (cargo xtask) serves dist/ at /, weights/ at /weights/ and
// SCENE_DIR at /scene/.

import { launchChromium } from './chromium.mjs';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const base = process.argv[2];
const artifacts = process.argv[3] ?? 'browser-artifacts';
mkdirSync(artifacts, { recursive: true });
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

const browser = await launchChromium();
// A context of its own, so that the widget's page can share its cache.
const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
const page = await context.newPage();
const foreign = [];
function watch(p, name) {
  p.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) foreign.push(r.url()); });
  p.on('console', (m) => { if (m.type() === 'error' || m.text().startsWith('s2m:')) console.log(`  [${name}] ${m.text()}`); });
  p.on('pageerror', (e) => console.log(`  [${name} error] ${e}`));
}
watch(page, 'page');

async function waitForState(states, timeout) {
  await page.waitForFunction(
    (s) => s.includes(document.querySelector('#status')?.dataset.state),
    states,
    { timeout, polling: 500 },
  );
  return page.$eval('#status', (el) => [el.dataset.state, el.textContent]);
}

await check('a damaged download is a message with a Retry button that recovers', async () => {
  // The generator arrives truncated once: its size and sha256 do not match.
  let served = false;
  await page.route('**/s2m_generator.f16.safetensors', async (route) => {
    if (served) return route.continue();
    served = true;
    const response = await route.fetch();
    const body = await response.body();
    await route.fulfill({ response, body: body.subarray(0, body.length >> 1) });
  });
  // WebGPU even on the software adapter (SwiftShader): the page itself
  // would choose the CPU there (the widget's check below takes that path).
  await page.goto(new URL('?compute=webgpu', base).href);
  const [state, text] = await waitForState(['ready', 'error'], 300_000);
  await page.screenshot({ path: join(artifacts, '0-damaged-download.png') });
  if (state !== 'error' || !text.includes('s2m_generator')) throw new Error(`status: ${text}`);
  const started = Date.now();
  await page.click('#retry');
  const [again, text2] = await waitForState(['ready', 'error'], 300_000);
  await page.screenshot({ path: join(artifacts, '1-ready.png') });
  if (again !== 'ready') throw new Error(`after retry: ${text2}`);
  // MobileSAM verified on the first try: the generator (and the head, never
  // reached) are fetched after Retry.
  if (!text2.includes('1 of 3 weights files from this browser')) throw new Error(`after retry: ${text2}`);
  const bytes = await page.$eval('#weights-bytes', (el) => el.textContent);
  console.log(`  weights: ${bytes}; ready ${((Date.now() - started) / 1000).toFixed(1)} s after Retry`);
  await page.unroute('**/s2m_generator.f16.safetensors');
});

const scene = process.argv[4];
const sceneBoxes = JSON.parse(readFileSync(join(scene, 'scene-000.json'), 'utf8')).boxes;

// IoU of the last mask of page `p` with /scene/scene-000.mask.png, within
// `box` (x0, y0, x1, y1) when one is given.
async function sceneIoU(box, p = page) {
  return p.evaluate(async (box) => {
    const result = window.s2mLastResult;
    const img = new Image();
    img.src = '/scene/scene-000.mask.png';
    await img.decode();
    const c = document.createElement('canvas');
    c.width = result.width; c.height = result.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const truth = ctx.getImageData(0, 0, c.width, c.height).data;
    let inter = 0, union = 0;
    for (let i = 0; i < result.mask.length; i++) {
      const x = i % result.width, y = Math.floor(i / result.width);
      const inBox = !box || (x >= box[0] && x < box[2] && y >= box[1] && y < box[3]);
      const a = result.mask[i] === 1, b = inBox && truth[i * 4] > 127;
      if (a && b) inter++;
      if (a || b) union++;
    }
    return union ? inter / union : 0;
  }, box);
}

await check('S2M on a scene and its score map finds the objects (IoU >= 0.8)', async () => {
  await page.setInputFiles('#score-map-input', join(scene, 'scene-000.npy'));
  const [loaded, note] = await waitForState(['ready', 'error'], 60_000);
  if (loaded !== 'ready') throw new Error(`status: ${note}`);
  const started = Date.now();
  await page.setInputFiles('#image-input', join(scene, 'scene-000.png'));
  const [state, text] = await waitForState(['done', 'error'], 1_200_000);
  console.log(`  first S2M result after ${((Date.now() - started) / 1000).toFixed(1)} s: ${text}`);
  await page.screenshot({ path: join(artifacts, '2-s2m.png') });
  if (state !== 'done') throw new Error(`status: ${text}`);
  const boxes = await page.evaluate(() => window.s2mLastResult.boxes.length);
  const iou = await sceneIoU(null);
  console.log(`  ${boxes} boxes; IoU with the objects' mask: ${iou.toFixed(4)}`);
  if (!(iou >= 0.8)) throw new Error(`IoU ${iou}`);
});

await check('views, ground truth IoU and curve, exports of the result', async () => {
  const canvasHash = () => page.$eval('#view', (c) => { const d = c.toDataURL(); let h = 0; for (let i = 0; i < d.length; i++) h = (h * 31 + d.charCodeAt(i)) | 0; return h; });
  const maskView = await canvasHash();
  await page.selectOption('#view-select', 'heatmap');
  await page.screenshot({ path: join(artifacts, '2b-heatmap.png') });
  if (await canvasHash() === maskView) throw new Error('the heatmap view draws the same as the mask view');
  await page.selectOption('#view-select', 'threshold');
  const thresholdView = await canvasHash();
  await page.fill('#threshold', '100');
  if (await canvasHash() === thresholdView) throw new Error('the slider does not change the thresholded view');

  // The scene's object mask as ground truth: the page's S2M IoU is the one
  // computed here from the published mask.
  await page.setInputFiles('#truth-input', join(scene, 'scene-000.mask.png'));
  await page.waitForFunction(() => document.querySelector('#measures')?.textContent.includes('S2M (no threshold)'), null, { timeout: 60_000, polling: 500 });
  const measures = await page.$eval('#measures', (el) => el.textContent);
  console.log(`  ${measures}`);
  await page.screenshot({ path: join(artifacts, '2c-ground-truth.png') });
  const shown = Number(/S2M \(no threshold\): IoU ([0-9.]+)/.exec(measures)[1]);
  const computed = await sceneIoU(null);
  if (Math.abs(shown - computed) > 0.001) throw new Error(`page IoU ${shown}, computed ${computed}`);
  if (!(await page.$eval('#iou-curve', (c) => getComputedStyle(c).display !== 'none'))) throw new Error('no IoU curve');
  await page.selectOption('#view-select', 'mask');

  const save = async (button) => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
    const path = join(artifacts, download.suggestedFilename());
    await download.saveAs(path);
    return [download.suggestedFilename(), readFileSync(path)];
  };
  const { width, height, boxes } = await page.evaluate(() => ({ width: window.s2mLastResult.width, height: window.s2mLastResult.height, boxes: window.s2mLastResult.boxes.length }));
  for (const [button, name, depth] of [['#export-mask', 'scene-000.mask.png', 8], ['#export-confidence', 'scene-000.confidence.png', 16]]) {
    const [saved, png] = await save(button);
    // PNG signature, then IHDR: width, height (big-endian), bit depth.
    if (saved !== name || png.readUInt32BE(0) !== 0x89504e47) throw new Error(`${button}: ${saved} is not a PNG`);
    if (png.readUInt32BE(16) !== width || png.readUInt32BE(20) !== height || png[24] !== depth) throw new Error(`${saved}: ${png.readUInt32BE(16)}x${png.readUInt32BE(20)}, ${png[24]} bits`);
  }
  const [savedBoxes, json] = await save('#export-boxes');
  const listed = JSON.parse(json.toString('utf8'));
  if (savedBoxes !== 'scene-000.boxes.json' || listed.detections.length !== boxes || listed.score_map !== 'scene-000.npy') throw new Error(`boxes.json: ${json}`);
});

await check('a drawn box gives the mask of the object in it (IoU >= 0.85)', async () => {
  // The largest object, its box grown by 6 px within the image.
  const area = (b) => (b[2] - b[0]) * (b[3] - b[1]);
  const [bx0, by0, bx1, by1] = sceneBoxes.reduce((a, b) => (area(b) > area(a) ? b : a));
  const [width, height] = await page.$eval('#view', (c) => [c.width, c.height]);
  const box = [Math.max(bx0 - 6, 0), Math.max(by0 - 6, 0), Math.min(bx1 + 6, width - 1), Math.min(by1 + 6, height - 1)];
  const r = await page.$eval('#view', (c) => { const b = c.getBoundingClientRect(); return { x: b.left, y: b.top, sx: b.width / c.width, sy: b.height / c.height }; });
  const at = (x, y) => [r.x + x * r.sx, r.y + y * r.sy];
  // The status element may still show the last run's "done" for a moment
  // after the drag: wait for a new result instead.
  await page.evaluate(() => { window.s2mPreviousResult = window.s2mLastResult; });
  await page.mouse.move(...at(box[0], box[1]));
  await page.mouse.down();
  await page.mouse.move(...at((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), { steps: 5 });
  await page.mouse.move(...at(box[2], box[3]), { steps: 5 });
  await page.mouse.up();
  const started = Date.now();
  await page.waitForFunction(
    () => window.s2mLastResult !== window.s2mPreviousResult || document.querySelector('#status')?.dataset.state === 'error',
    null,
    { timeout: 600_000, polling: 500 },
  );
  const [done, message] = await page.$eval('#status', (el) => [el.dataset.state, el.textContent]);
  console.log(`  box mask after ${((Date.now() - started) / 1000).toFixed(1)} s: ${message}`);
  await page.screenshot({ path: join(artifacts, '3-box.png') });
  if (done !== 'done' || !message.includes('your box')) throw new Error(`status: ${message}`);
  const iou = await sceneIoU(box);
  console.log(`  IoU with the object's mask: ${iou.toFixed(4)}`);
  if (!(iou >= 0.85)) throw new Error(`IoU ${iou}`);
});

await check('corrupt frames give error messages, not a broken page; a dropped frame takes the score map of its stem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2m-corrupt-'));
  const corrupt = [join(dir, 'broken.png'), join(dir, 'also-broken.jpg')];
  for (const file of corrupt) writeFileSync(file, Buffer.from('this is not an image at all'));
  await page.setInputFiles('#image-input', corrupt);
  const [, text] = await waitForState(['error'], 60_000);
  await page.screenshot({ path: join(artifacts, '4-corrupt.png') });
  if (!text.includes('broken.png')) throw new Error(`message does not name the file: ${text}`);
  // Two frames were chosen: the second is one click away, and fails alike.
  const label = await page.$eval('#frame-label', (el) => el.textContent);
  if (!label.includes('frame 1 of 2')) throw new Error(`frame label: ${label}`);
  await page.click('#next-frame');
  await page.waitForFunction(() => {
    const status = document.querySelector('#status');
    return status?.dataset.state === 'error' && status.textContent.includes('also-broken.jpg');
  }, null, { timeout: 60_000, polling: 250 });
  // The page still works afterwards: the scene's picture dropped on the
  // page with its score map and a decoy map named after no frame (and not
  // a score map at all) runs S2M on the picture with the map of its stem.
  // The status still shows the corrupt file's error until the run starts:
  // wait for a new result (or another message).
  const before = await page.$eval('#status', (el) => el.textContent);
  await page.evaluate(async () => {
    window.s2mPreviousResult = window.s2mLastResult;
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array([1, 2, 3])], 'a-decoy.npy'));
    // Renamed, so that the exported boxes.json shows which map was used.
    for (const [name, as] of [['scene-000.png', 'dropped.png'], ['scene-000.npy', 'dropped.npy']]) {
      const response = await fetch(`/scene/${name}`);
      if (!response.ok) throw new Error(`/scene/${name}: HTTP ${response.status}`);
      transfer.items.add(new File([await response.arrayBuffer()], as));
    }
    document.querySelector('main').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction(
    (old) => window.s2mLastResult !== window.s2mPreviousResult || (document.querySelector('#status')?.dataset.state === 'error' && document.querySelector('#status')?.textContent !== old),
    before,
    { timeout: 600_000, polling: 500 },
  );
  const [after, text2] = await page.$eval('#status', (el) => [el.dataset.state, el.textContent]);
  if (after !== 'done') throw new Error(`the page did not recover: ${text2}`);
  const iou = await sceneIoU(null);
  console.log(`  dropped frame with its own score map: ${text2}; IoU ${iou.toFixed(4)}`);
  if (!(iou >= 0.8)) throw new Error(`IoU ${iou}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-boxes')]);
  const path = join(artifacts, download.suggestedFilename());
  await download.saveAs(path);
  const listed = JSON.parse(readFileSync(path, 'utf8'));
  if (download.suggestedFilename() !== 'dropped.boxes.json' || listed.score_map !== 'dropped.npy') throw new Error(`${download.suggestedFilename()}: ${JSON.stringify(listed)}`);
});

// An init script: every model worker the page starts keeps the GPU
// devices it requests as `self.s2mGpuDevices`, so that a check can lose
// one (GPUDevice.destroy()) or raise an error on it. The page's worker
// script is wrapped in one that first imports the recording patch, so the
// patch is in place before any of the worker's own code runs.
function recordWorkerGpuDevices() {
  const patch = `if (self.GPUAdapter) {
    self.s2mGpuDevices = [];
    const request = GPUAdapter.prototype.requestDevice;
    GPUAdapter.prototype.requestDevice = async function (...args) {
      const device = await request.apply(this, args);
      self.s2mGpuDevices.push(device);
      return device;
    };
  }`;
  const script = (text) => URL.createObjectURL(new Blob([text], { type: 'text/javascript' }));
  const PageWorker = window.Worker;
  window.Worker = class extends PageWorker {
    constructor(url, options) {
      super(script(`import ${JSON.stringify(script(patch))};\nimport ${JSON.stringify(String(url))};\n`), options);
    }
  };
}

await check('a reload takes the weights from Cache Storage', async () => {
  const started = Date.now();
  // From now on the GPU devices of the page's model workers are within
  // the test's reach.
  await page.addInitScript(recordWorkerGpuDevices);
  await page.reload();
  const [state, text] = await waitForState(['ready', 'error'], 300_000);
  if (state !== 'ready' || !text.includes('3 of 3 weights files from this browser')) throw new Error(`status: ${text}`);
  console.log(`  ready ${((Date.now() - started) / 1000).toFixed(1)} s after the reload`);
});

await check('without a score map the anomaly head finds the object on the road fixture (IoU >= 0.7)', async () => {
  // After the reload no score map is chosen: the page scores the frame
  // with the anomaly head on MobileSAM's embedding (the default path).
  const fixtures = new URL('../fixtures/', import.meta.url);
  const frame = fileURLToPath(new URL('road_1024x576.png', fixtures));
  const truth = readFileSync(fileURLToPath(new URL('road_1024x576_object_mask.png', fixtures))).toString('base64');
  const started = Date.now();
  await page.setInputFiles('#image-input', frame);
  const [state, text] = await waitForState(['done', 'error'], 1_200_000);
  await page.screenshot({ path: join(artifacts, '4b-anomaly-head.png') });
  console.log(`  after ${((Date.now() - started) / 1000).toFixed(1)} s: ${text}`);
  if (state !== 'done') throw new Error(`status: ${text}`);
  const iou = await page.evaluate(async (png) => {
    const result = window.s2mLastResult;
    const img = new Image();
    img.src = `data:image/png;base64,${png}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = result.width; c.height = result.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const mask = ctx.getImageData(0, 0, c.width, c.height).data;
    let inter = 0, union = 0;
    for (let i = 0; i < result.mask.length; i++) {
      const a = result.mask[i] === 1, b = mask[i * 4] > 127;
      if (a && b) inter++;
      if (a || b) union++;
    }
    return union ? inter / union : 0;
  }, truth);
  const boxes = await page.evaluate(() => window.s2mLastResult.boxes.length);
  console.log(`  ${boxes} boxes; IoU with the object's mask ${iou.toFixed(4)}`);
  if (!text.includes('anomaly head')) throw new Error(`status: ${text}`);
  if (!(iou >= 0.7)) throw new Error(`IoU ${iou}`);
});

await check('without WebGPU the page says so and runs the models on the CPU (IoU >= 0.8), staying responsive; Stop ends a run', async () => {
  const noWebGpu = await launchChromium({ webgpu: false });
  const bare = await noWebGpu.newPage();
  bare.on('pageerror', (e) => console.log(`  [no-webgpu page error] ${e}`));
  await bare.goto(base);
  await bare.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: 120_000, polling: 500 });
  const text = await bare.$eval('#status', (el) => el.textContent);
  await bare.screenshot({ path: join(artifacts, '5-no-webgpu.png') });
  if (!text.includes('no WebGPU') || !text.includes('on the CPU') || !text.startsWith('This browser')) throw new Error(`status: ${text}`);
  await bare.setInputFiles('#score-map-input', join(scene, 'scene-000.npy'));
  await bare.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Score map'), null, { timeout: 60_000, polling: 250 });
  // The longest time the page's thread went without running a 50 ms timer
  // while the models work: they compute in the worker, not here.
  await bare.evaluate(() => {
    window.s2mLongestGap = 0;
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      window.s2mLongestGap = Math.max(window.s2mLongestGap, now - last);
      last = now;
    }, 50);
  });
  const started = Date.now();
  await bare.setInputFiles('#image-input', join(scene, 'scene-000.png'));
  await bare.waitForFunction(() => ['done', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: 600_000, polling: 500 });
  const [state, message] = await bare.$eval('#status', (el) => [el.dataset.state, el.textContent]);
  const timings = await bare.$eval('#timings', (el) => el.textContent);
  const gap = await bare.evaluate(() => window.s2mLongestGap);
  console.log(`  on the CPU after ${((Date.now() - started) / 1000).toFixed(1)} s: ${message} (${timings}); the page's longest pause ${gap.toFixed(0)} ms`);
  if (state !== 'done') throw new Error(`status: ${message}`);
  const iou = await sceneIoU(null, bare);
  console.log(`  IoU ${iou.toFixed(4)}`);
  if (!(iou >= 0.8)) throw new Error(`IoU ${iou}`);
  if (!(gap < 1000)) throw new Error(`the page stopped for ${gap.toFixed(0)} ms while the models worked`);
  // Stop while the encoder works: the models start again at once and the
  // next frame goes through.
  await bare.setInputFiles('#image-input', join(scene, 'scene-000.png'));
  await bare.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Embedding the image'), null, { timeout: 60_000, polling: 100 });
  const stopped = Date.now();
  await bare.click('#stop');
  await bare.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: 60_000, polling: 100 });
  const [afterStop, stopText] = await bare.$eval('#status', (el) => [el.dataset.state, el.textContent]);
  console.log(`  ${((Date.now() - stopped) / 1000).toFixed(1)} s after Stop: ${stopText}`);
  if (afterStop !== 'ready' || !stopText.startsWith('Stopped.')) throw new Error(`after Stop: ${stopText}`);
  await bare.setInputFiles('#image-input', join(scene, 'scene-000.png'));
  await bare.waitForFunction(() => ['done', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: 600_000, polling: 500 });
  const [again, againText] = await bare.$eval('#status', (el) => [el.dataset.state, el.textContent]);
  if (again !== 'done') throw new Error(`after Stop, the next frame: ${againText}`);
  await noWebGpu.close();
});

await check('the widget works in a plain page: styles kept apart, events, S2M on the scene (IoU >= 0.8)', async () => {
  // Same browser profile as the page: the weights come from its cache.
  const w = await context.newPage();
  watch(w, 'widget page');
  const lastStatus = () => w.evaluate(() => window.widgetEvents.filter((e) => e.type === 's2m-status').at(-1)?.detail);
  await w.goto(new URL('widget.html', base).href);
  await w.waitForFunction(
    () => ['ready', 'error'].includes(window.widgetEvents?.filter((e) => e.type === 's2m-status').at(-1)?.detail.state),
    null,
    { timeout: 300_000, polling: 500 },
  );
  const ready = await lastStatus();
  if (ready.state !== 'ready') throw new Error(`widget status: ${ready.message}`);
  // `compute` unset (auto): SwiftShader is a software adapter, the CPU
  // path is faster, and the widget says why it took it.
  if (!ready.message.includes('software adapter')) throw new Error(`widget status: ${ready.message}`);
  const styles = await w.evaluate(() => {
    const element = document.querySelector('s2m-segmenter');
    const root = element.shadowRoot;
    return {
      hostBody: getComputedStyle(document.body).backgroundColor,
      hostMain: getComputedStyle(document.querySelector('main')).borderTopStyle,
      widget: getComputedStyle(element).backgroundColor,
      widgetMain: getComputedStyle(root.querySelector('main')).borderTopStyle,
      widgetStatus: getComputedStyle(root.querySelector('#status')).display,
    };
  });
  console.log(`  styles: ${JSON.stringify(styles)}`);
  // The host's rules (white body, dashed <main>, hidden #status) stay out
  // there; the widget's (dark, visible status) stay in here.
  if (styles.hostBody !== 'rgb(255, 255, 255)' || styles.hostMain !== 'dashed') throw new Error('the widget changed the host page');
  if (styles.widget !== 'rgb(16, 20, 26)' || styles.widgetMain === 'dashed' || styles.widgetStatus === 'none') throw new Error('host styles reached into the widget');

  await w.setInputFiles('s2m-segmenter #score-map-input', join(scene, 'scene-000.npy'));
  await w.waitForFunction(() => window.widgetEvents.some((e) => e.type === 's2m-status' && e.detail.message.startsWith('Score map')), null, { timeout: 60_000, polling: 500 });
  const started = Date.now();
  await w.setInputFiles('s2m-segmenter #image-input', join(scene, 'scene-000.png'));
  await w.waitForFunction(
    () => window.widgetEvents.some((e) => e.type === 's2m-result') || window.widgetEvents.filter((e) => e.type === 's2m-status').at(-1)?.detail.state === 'error',
    null,
    { timeout: 1_200_000, polling: 1000 },
  );
  await w.screenshot({ path: join(artifacts, '6-widget.png') });
  const result = await w.evaluate(() => {
    const event = window.widgetEvents.filter((e) => e.type === 's2m-result').at(-1);
    return event && { boxes: event.detail.boxes.length, same: event.detail === window.s2mLastResult };
  });
  if (!result) throw new Error(`no s2m-result: ${(await lastStatus()).message}`);
  const iou = await sceneIoU(null, w);
  console.log(`  s2m-result after ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.boxes} boxes; IoU ${iou.toFixed(4)}`);
  if (!result.same) throw new Error('the event does not carry the published result');
  if (!(iou >= 0.8)) throw new Error(`IoU ${iou}`);
  await w.close();
});

await check('a GPU out-of-memory error is a message asking for a smaller frame; a new model worker takes over', async () => {
  // A page of its own (weights from the shared cache), on WebGPU.
  const p = await context.newPage();
  watch(p, 'out-of-memory page');
  await p.addInitScript(recordWorkerGpuDevices);
  const status = () => p.$eval('#status', (el) => [el.dataset.state, el.textContent]);
  await p.goto(new URL('?compute=webgpu', base).href);
  await p.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: 300_000, polling: 250 });
  const [ready, readyText] = await status();
  if (ready !== 'ready') throw new Error(`status: ${readyText}`);
  const [first] = p.workers();
  // WebGPU reports an allocation that does not fit as an uncaptured
  // GPUOutOfMemoryError of the device; the test raises one.
  await first.evaluate(() => {
    const error = new GPUOutOfMemoryError('out of memory (raised by the test)');
    self.s2mGpuDevices.at(-1).dispatchEvent(new GPUUncapturedErrorEvent('uncapturederror', { error }));
  });
  await p.setInputFiles('#image-input', join(scene, 'scene-000.png'));
  await p.waitForFunction(
    () => ['ready', 'error'].includes(document.querySelector('#status')?.dataset.state) && document.querySelector('#status').textContent.includes('out of memory'),
    null,
    { timeout: 300_000, polling: 250 },
  );
  const [state, text] = await status();
  console.log(`  ${text}`);
  await p.screenshot({ path: join(artifacts, '7-out-of-memory.png') });
  if (state !== 'ready' || !text.includes('try a smaller frame')) throw new Error(`status: ${text}`);
  const workers = p.workers();
  if (workers.length !== 1 || workers[0] === first) throw new Error(`${workers.length} model workers, the first one ${workers.includes(first) ? 'still there' : 'gone'}`);
  await p.close();
});

await check('a lost GPU device is replaced and the page goes on; a video file is stepped a second at a time, each frame shown while the encoder runs', async () => {
  // The model worker's device is lost while it waits: the next request
  // finds out, the page starts a new worker with a new device, loads the
  // models again and goes on with the request. Every status the page
  // shows is kept.
  const [first] = page.workers();
  if (page.workers().length !== 1) throw new Error(`${page.workers().length} model workers`);
  await page.evaluate(() => {
    window.s2mStatuses = [];
    const status = document.querySelector('#status');
    new MutationObserver(() => window.s2mStatuses.push(status.textContent)).observe(status, { childList: true, subtree: true, characterData: true });
  });
  await first.evaluate(() => self.s2mGpuDevices.at(-1).destroy());
  // A 2.5 s WebM of the scene recorded in the page (MediaRecorder, VP8):
  // such recordings carry no length, which the page must find itself.
  const bytes = await page.evaluate(async () => {
    const img = new Image();
    img.src = '/scene/scene-000.png';
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.width; canvas.height = img.height;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const recorder = new MediaRecorder(canvas.captureStream(10), { mimeType: 'video/webm;codecs=vp8' });
    const chunks = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
    recorder.start();
    const start = performance.now();
    while (performance.now() - start < 2500) {
      ctx.drawImage(img, 0, 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    recorder.stop();
    await stopped;
    return Array.from(new Uint8Array(await new Blob(chunks).arrayBuffer()));
  });
  const dir = mkdtempSync(join(tmpdir(), 's2m-video-'));
  const video = join(dir, 'drive.webm');
  writeFileSync(video, Buffer.from(bytes));
  await page.setInputFiles('#image-input', video);
  // Embedding after the new device is up (the first try fails on the lost one).
  await page.waitForFunction(
    () => {
      const lost = window.s2mStatuses.findIndex((t) => t.includes('GPU device was lost'));
      const status = document.querySelector('#status');
      return status?.dataset.state === 'error' || (lost >= 0 && window.s2mStatuses.slice(lost).some((t) => t.includes('Embedding the image')) && status.textContent.includes('Embedding the image'));
    },
    null,
    { timeout: 300_000, polling: 250 },
  );
  const statuses = await page.evaluate(() => window.s2mStatuses.filter((t, i, all) => t !== all[i - 1]));
  console.log(`  statuses: ${statuses.join(' | ')}`);
  // The first worker is gone; a new one runs with a device of its own.
  const workers = page.workers();
  if (workers.length !== 1 || workers[0] === first) throw new Error(`${workers.length} model workers, the first one ${workers.includes(first) ? 'still there' : 'gone'}`);
  const devices = await workers[0].evaluate(() => self.s2mGpuDevices.length);
  if (devices !== 1) throw new Error(`the new worker requested ${devices} GPU devices`);
  const [state, text] = await page.$eval('#status', (el) => [el.dataset.state, el.textContent]);
  const label = await page.$eval('#frame-label', (el) => el.textContent);
  console.log(`  ${bytes.length} bytes of WebM; ${label.trim()}; ${text}`);
  if (state === 'error') throw new Error(`status: ${text}`);
  const count = Number(/frame 1 of (\d+): drive\.webm at 0\.0 s/.exec(label)?.[1]);
  if (!(count >= 2 && count <= 4)) throw new Error(`frame label: ${label}`);
  // The frame on the canvas is the scene's picture (VP8 is lossy).
  const difference = await page.evaluate(async () => {
    const img = new Image();
    img.src = '/scene/scene-000.png';
    await img.decode();
    const view = document.querySelector('#view');
    if (view.width !== img.width || view.height !== img.height) return `view ${view.width}x${view.height}`;
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const want = ctx.getImageData(0, 0, c.width, c.height).data;
    const got = view.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < want.length; i += 4) for (let k = 0; k < 3; k++) sum += Math.abs(want[i + k] - got[i + k]);
    return sum / (want.length / 4 * 3);
  });
  console.log(`  mean absolute difference of the shown frame from the scene: ${difference}`);
  if (!(difference < 12)) throw new Error(`shown frame: ${difference}`);
  await page.screenshot({ path: join(artifacts, '5-video.png') });
  // The next frame is a second later; the encoder still works on this one
  // (the test ends without waiting for it: S2M on a frame is tested above).
  await page.click('#next-frame');
  await page.waitForFunction(() => document.querySelector('#status')?.dataset.state === 'busy', null, { timeout: 60_000, polling: 250 });
  const busy = await page.$eval('#status', (el) => el.textContent);
  if (!busy.includes('drive.webm at 1.0 s')) throw new Error(`status: ${busy}`);
});

await check('no request leaves the served origin', async () => {
  if (foreign.length) throw new Error(`requests outside ${origin}: ${foreign.join(', ')}`);
});

await browser.close();
const passed = results.filter(([, ok]) => ok).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
