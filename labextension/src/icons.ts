import { LabIcon } from '@jupyterlab/ui-components';

/**
 * The panel's icon: a speech bubble with code. Inline, so that the compiled lib/ needs
 * no asset path; `jp-icon3` lets the theme colour it.
 */
const AUTOCODER_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 5h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2h-7l-4.5 3.5V18H4a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2zm0 2v9h6.5v1.4L12.3 16H20V7H4z"/>
    <path d="M8.7 9.2 6.4 11.5l2.3 2.3 1.1-1.1-1.2-1.2 1.2-1.2zM15.3 9.2l-1.1 1.1 1.2 1.2-1.2 1.2 1.1 1.1 2.3-2.3zM12.9 8.6l-2.6 6.2 1.4.6 2.6-6.2z"/>
  </g>
</svg>`;

export const autocoderIcon = new LabIcon({
  name: 'jupyter-autocoder:autocoder',
  svgstr: AUTOCODER_SVG
});
