import { STYLES } from './styles.js';

/**
 * The demo page `valet dev` serves at `/`: the HTML shell (its styles in styles.ts). The script
 * is `browser/app.ts`, bundled with the `valet/client` SDK by {@link bundleWebApp}.
 */
export function demoPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<title>Valet dev</title>
<style>${STYLES}</style>
</head>
<body>
<header class="bar">
  <h1 class="brand"><img src="/favicon.svg" alt="" width="28" height="28"> <span>Valet
    <span class="tagline">uploads go straight to storage</span></span></h1>
  <div class="account">
    <p id="signed-out">Try it as
      <button type="button" id="as-alice" class="primary">Sign in as alice</button>
      <button type="button" id="as-bob">Sign in as bob</button></p>
    <p id="signed-in" hidden>Signed in as <strong id="who"></strong>
      <button type="button" id="sign-out">Sign out</button></p>
  </div>
</header>
<div id="toasts" class="toasts" role="status" aria-live="polite"></div>
<main class="layout">
  <section class="card" aria-labelledby="upload-title">
    <h2 id="upload-title">Upload</h2>
    <p id="limits" class="muted">Sign in to see what you may upload.</p>
    <input type="file" id="files" multiple class="visually-hidden" disabled>
    <label id="drop" for="files" class="drop" aria-disabled="true"><strong id="drop-title">Sign in to upload</strong>
      <span>or <span class="like-link">choose files</span></span></label>
    <ul id="transfers" class="transfers" aria-label="Transfers"></ul>
  </section>
  <section class="card" aria-labelledby="pattern-title">
    <h2 id="pattern-title">The last transfer</h2>
    <dl id="pattern" class="pairs"><dt>Nothing yet</dt><dd>Upload a file to see where its bytes went: a
      few dozen to the issuer for the key, the file itself straight to storage.</dd></dl>
  </section>
  <section class="card wide" aria-labelledby="objects-title">
    <div class="section-head">
      <h2 id="objects-title">Your objects</h2>
      <div class="segmented" role="group" aria-label="Show objects as">
        <button type="button" id="view-grid" aria-pressed="true">Grid</button>
        <button type="button" id="view-list" aria-pressed="false">List</button>
      </div>
    </div>
    <p id="objects-state" class="state">Sign in to see your objects.</p>
    <ul id="objects" class="objects grid" aria-labelledby="objects-title"></ul>
    <div id="preview" class="preview" aria-live="polite"></div>
  </section>
  <section class="card wide" aria-labelledby="shares-title">
    <div class="section-head">
      <h2 id="shares-title">Share links</h2>
      <p class="inline-field"><label for="ttl">New links work for</label>
        <select id="ttl"><option value="600">10 minutes</option><option value="3600">1 hour</option><option value="86400">1 day</option><option value="604800">7 days</option></select></p>
    </div>
    <p id="shares-state" class="state">Sign in to see your share links.</p>
    <ul id="shares" class="shares" aria-labelledby="shares-title"></ul>
  </section>
</main>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
}

/** The page's icon: a key. */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="10" cy="16" r="7" fill="none" stroke="#2b6cb0" stroke-width="4"/><path d="M17 16h13M25 16v6M29 16v4" stroke="#2b6cb0" stroke-width="4"/></svg>';

/** The page's Content-Security-Policy: its own script only; it talks to the issuer and to storage. */
export function demoPageCsp(storageOrigin: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'unsafe-inline'",
    `connect-src 'self' ${storageOrigin}`,
    `img-src 'self' ${storageOrigin}`,
    `media-src ${storageOrigin}`,
    "frame-ancestors 'none'",
  ].join('; ');
}
