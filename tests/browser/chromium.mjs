// Debian's headless Chromium with WebGPU (SwiftShader), quiet about the
// network: the launch the browser test and the page benchmark share.
// playwright gives every launch a fresh, empty profile.

import { chromium } from 'playwright-core';

export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--enable-unsafe-webgpu',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic',
    ],
  });
}
