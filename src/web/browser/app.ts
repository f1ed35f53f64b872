// The demo page's script (bundled by esbuild with the `valet/client` SDK). Everything it does with
// files goes through the SDK: keys from the issuer, bytes straight to storage. Its parts: session
// (sign in and out), limits, uploads, objects (grid or list), shares; dom and state are shared.
import { $ } from './dom.js';
import { refresh, setView } from './objects.js';
import { signIn, signOut } from './session.js';
import { uploadFiles } from './uploads.js';

$('as-alice').addEventListener('click', () => void signIn('alice'));
$('as-bob').addEventListener('click', () => void signIn('bob'));
$('sign-out').addEventListener('click', () => void signOut());
$('view-grid').addEventListener('click', () => setView('grid'));
$('view-list').addEventListener('click', () => setView('list'));
$<HTMLInputElement>('files').addEventListener('change', (event) => {
  const input = event.target as HTMLInputElement;
  uploadFiles(input.files ?? []);
  input.value = '';
});
const drop = $('drop');
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  uploadFiles(event.dataTransfer?.files ?? []);
});
setView(localStorage.getItem('valet-view') === 'list' ? 'list' : 'grid');
void refresh();
