/**
 * The demo page `valet dev` serves at `/`: the HTML shell and its styles. The script is
 * `browser/app.ts`, bundled with the `valet/client` SDK by {@link bundleWebApp}.
 */
export function demoPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<title>Valet dev</title>
<style>
  :root { color-scheme: light; --accent: #1f5fbf; }
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; color: #1d1d1d; }
  h1 { font-size: 1.35rem; margin: 0 0 .5rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
  button, select { font: inherit; padding: .25rem .6rem; margin: .1rem .2rem .1rem 0; border: 1px solid #888; border-radius: 4px; background: #fff; cursor: pointer; }
  button:focus-visible, select:focus-visible, input:focus-visible + label, a:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  #drop { display: block; border: 2px dashed #999; border-radius: 8px; padding: 1.2rem; text-align: center; cursor: pointer; }
  #drop.over { border-color: var(--accent); background: #eef4ff; }
  #files { position: absolute; width: 1px; height: 1px; opacity: 0; }
  #files:focus-visible + #drop { outline: 3px solid var(--accent); outline-offset: 2px; }
  ul#transfers { list-style: none; padding: 0; } #transfers li { padding: .3rem 0; border-bottom: 1px solid #eee; }
  #transfers .failed .detail { color: #b00020; } progress { width: 12rem; vertical-align: middle; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid #e3e3e3; vertical-align: top; }
  .mono { font-family: ui-monospace, monospace; font-size: .85rem; word-break: break-all; }
  #status { min-height: 1.5em; } #status.error { color: #b00020; font-weight: 600; }
  #pattern { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; } #pattern dt { font-weight: 600; }
  #preview img, #preview video { max-width: 100%; max-height: 24rem; }
  @media (max-width: 40rem) { thead { display: none; } tr, td { display: block; } tr { border-bottom: 2px solid #ccc; padding: .4rem 0; } td { border: 0; padding: .1rem 0; } }
</style>
</head>
<body>
<header>
  <h1>Valet: uploads go straight to storage</h1>
  <p>Signed in as <strong id="who">nobody</strong>.
    <button type="button" id="as-alice">Sign in as alice</button>
    <button type="button" id="as-bob">Sign in as bob</button></p>
  <p id="status" role="status" aria-live="polite"></p>
</header>
<main>
  <section aria-labelledby="upload-title">
    <h2 id="upload-title">Upload</h2>
    <input type="file" id="files" multiple>
    <label id="drop" for="files">Drop files here, or choose files</label>
    <ul id="transfers" aria-label="Transfers"></ul>
  </section>
  <section aria-labelledby="pattern-title">
    <h2 id="pattern-title">The last transfer</h2>
    <dl id="pattern"><dt>Nothing yet</dt><dd>Upload a file to see where its bytes went.</dd></dl>
  </section>
  <section aria-labelledby="objects-title">
    <h2 id="objects-title">Your objects</h2>
    <p id="empty">No objects yet.</p>
    <table><thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Type</th><th scope="col">Modified</th><th scope="col">SHA-256</th><th scope="col">Actions</th></tr></thead>
    <tbody id="objects"></tbody></table>
    <div id="preview" aria-live="polite"></div>
  </section>
  <section aria-labelledby="shares-title">
    <h2 id="shares-title">Share links</h2>
    <p><label for="ttl">New links work for</label>
      <select id="ttl"><option value="600">10 minutes</option><option value="3600">1 hour</option><option value="86400">1 day</option><option value="604800">7 days</option></select></p>
    <p id="no-shares">No active links.</p>
    <table><thead><tr><th scope="col">Object</th><th scope="col">Expires</th><th scope="col">Link</th><th scope="col">Actions</th></tr></thead>
    <tbody id="shares"></tbody></table>
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
