// Debian's headless Chromium with WebGPU (SwiftShader), quiet about the
// network: the launch the browser test and the page benchmark share.
// playwright gives every launch a fresh, empty profile. `webgpu: false`
// leaves out `--enable-unsafe-webgpu`: this headless Chromium then offers
// no WebGPU adapter, to pages and workers alike.

import { chromium } from 'playwright-core';

export function launchChromium({ webgpu = true } = {}) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      ...(webgpu ? ['--enable-unsafe-webgpu'] : []),
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic',
    ],
  });
}
