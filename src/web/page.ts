/**
 * The demo page `valet dev` serves at `/`: sign in as a development user, upload straight to
 * storage (with progress), list, download, share and delete. Plain HTML and a small script with
 * no build step; it talks to the issuer on its own origin and to storage directly.
 */
export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Valet dev</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; } table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
  td, th { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; font-size: .9rem; }
  button { margin-right: .3rem; } progress { width: 16rem; vertical-align: middle; }
  #error { color: #b00020; min-height: 1.5em; } .muted { color: #666; font-size: .85rem; word-break: break-all; }
</style>
</head>
<body>
<h1>Valet: direct uploads with valet keys</h1>
<p>Signed in as <strong id="who">nobody</strong>.
  <button id="as-alice">Sign in as alice</button><button id="as-bob">Sign in as bob</button></p>
<p><input type="file" id="file"> <button id="upload" disabled>Upload</button>
  <progress id="progress" max="1" value="0"></progress> <span id="percent"></span></p>
<p id="error" role="alert"></p>
<p class="muted" id="link"></p>
<table><thead><tr><th>Object</th><th>Size</th><th>Type</th><th></th></tr></thead><tbody id="objects"></tbody></table>
<script type="module">
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('valet-token');
let user = sessionStorage.getItem('valet-user');

function fail(message) { $('error').textContent = message; }
async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { authorization: 'Bearer ' + token, ...(body && { 'content-type': 'application/json' }) },
    ...(body && { body: JSON.stringify(body) }),
  });
  if (response.status === 204) return undefined;
  const json = await response.json();
  if (!response.ok) throw new Error(json.error ? json.error.code + ': ' + json.error.message : response.statusText);
  return json;
}
async function signIn(name) {
  const response = await fetch('/idp/token', { method: 'POST', body: new URLSearchParams({ user: name }) });
  const json = await response.json();
  token = json.token; user = name;
  sessionStorage.setItem('valet-token', token); sessionStorage.setItem('valet-user', user);
  render();
}
function put(key, file) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(key.method, key.url);
    for (const [name, value] of Object.entries(key.headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => { $('progress').value = e.loaded / file.size; $('percent').textContent = Math.round(100 * e.loaded / file.size) + '%'; };
    xhr.onload = () => {
      const json = JSON.parse(xhr.responseText || '{}');
      if (xhr.status < 300) resolve(json); else reject(new Error(json.error ? json.error.code + ': ' + json.error.message : 'status ' + xhr.status));
    };
    xhr.onerror = () => reject(new Error('network error'));
    xhr.send(file);
  });
}
async function upload() {
  const file = $('file').files[0];
  if (!file) return;
  fail('');
  try {
    const key = await call('POST', '/v1/keys', { op: 'put', name: file.name, size: file.size, ...(file.type && { contentType: file.type }) });
    await put(key, file);
    setTimeout(render, 300);
  } catch (error) { fail(error.message); }
}
async function open(key, op) {
  fail('');
  try {
    if (op === 'share') {
      const share = await call('POST', '/v1/shares', { key, ttl: 600 });
      $('link').textContent = 'Share link (10 minutes): ' + share.url;
      return;
    }
    const minted = await call('POST', '/v1/keys', { op, key });
    if (op === 'get') { window.open(minted.url, '_blank', 'noopener'); return; }
    const response = await fetch(minted.url, { method: 'DELETE' });
    if (!response.ok) throw new Error('delete failed: ' + response.status);
    setTimeout(render, 300);
  } catch (error) { fail(error.message); }
}
async function render() {
  $('who').textContent = user || 'nobody';
  $('upload').disabled = !token;
  const rows = $('objects');
  rows.textContent = '';
  if (!token) return;
  try {
    const { objects } = await call('GET', '/v1/objects');
    for (const o of objects) {
      const tr = document.createElement('tr');
      for (const text of [o.key, o.size + ' B', o.content_type]) {
        const td = document.createElement('td'); td.textContent = text; tr.append(td);
      }
      const actions = document.createElement('td');
      for (const [label, op] of [['Download', 'get'], ['Share', 'share'], ['Delete', 'delete']]) {
        const b = document.createElement('button'); b.textContent = label; b.onclick = () => open(o.key, op); actions.append(b);
      }
      tr.append(actions); rows.append(tr);
    }
  } catch (error) { fail(error.message); }
}
$('as-alice').onclick = () => signIn('alice');
$('as-bob').onclick = () => signIn('bob');
$('upload').onclick = upload;
render();
</script>
</body>
</html>
`;
