// <s2m-segmenter weights="URL">: the s2m-web app as a custom element, in
// its own shadow root (issue #6). Embed it with
//   <script type="module" src="https://HOST/s2m-segmenter.js"></script>
//   <s2m-segmenter weights="https://HOST/weights"></s2m-segmenter>
// Attributes: `weights`, the folder holding manifest.json and the weights
// files (default: `weights` next to this script); `compute`, where the
// models run: `auto` (WebGPU on a hardware adapter, else the CPU; the
// default), `webgpu` (any adapter) or `cpu`. Events, on the element
// (bubbling, composed): `s2m-status` (detail { state, message }) and
// `s2m-result` (detail { width, height, mask, boxes }); see
// web/src/widget.rs.
import init, { mountSegmenter } from './s2m-web.js';

const ready = init();

class S2mSegmenter extends HTMLElement {
  async connectedCallback() {
    if (this.mounted) return;
    this.mounted = true;
    await ready;
    const weights = this.getAttribute('weights') ?? new URL('weights', import.meta.url).href;
    mountSegmenter(this, weights, this.getAttribute('compute') ?? 'auto');
  }
}

if (!customElements.get('s2m-segmenter')) {
  customElements.define('s2m-segmenter', S2mSegmenter);
}
