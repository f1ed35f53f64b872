/**
 * The demo page's styles: a type scale (13, 15, 18, 24 px), an 8 px spacing grid, one accent
 * colour with a danger and a success colour (each at least 4.5:1 on its background), cards,
 * visible focus, and a one-column phone layout under 44rem.
 */
export const STYLES = `
:root {
  color-scheme: light;
  --bg: #f4f6f9; --card: #fff; --text: #1b1f24; --muted: #5a6270; --line: #dde2e8;
  --accent: #1d4fbf; --accent-soft: #e8efff; --danger: #b42318; --danger-soft: #fdecea;
  --ok: #17693a; --ok-soft: #e7f6ec; --radius: 10px; --shadow: 0 1px 2px rgb(16 24 40 / 6%), 0 1px 3px rgb(16 24 40 / 10%);
  --s1: 4px; --s2: 8px; --s3: 16px; --s4: 24px; --s5: 32px;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.detail, .toast, .note, .state, .muted, dd, #limits { overflow-wrap: anywhere; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--text); }
h2 { font-size: 18px; line-height: 1.3; margin: 0 0 var(--s2); }
h3 { font-size: 15px; margin: 0 0 var(--s2); }
p { margin: 0 0 var(--s2); }
button, select { font: inherit; font-size: 14px; min-height: 36px; padding: 0 var(--s3); border: 1px solid #b8c0cc;
  border-radius: 8px; background: #fff; color: var(--text); cursor: pointer; }
button:hover { background: #f0f3f7; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover { background: #173f99; }
button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
button.quiet { border-color: transparent; background: transparent; color: var(--accent); padding: 0 var(--s2); }
button[aria-pressed="true"] { background: var(--accent-soft); border-color: var(--accent); color: var(--accent); font-weight: 600; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.muted { color: var(--muted); font-size: 14px; }

.bar { display: flex; flex-wrap: wrap; gap: var(--s2) var(--s3); align-items: center; justify-content: space-between;
  padding: var(--s2) var(--s4); background: #fff; border-bottom: 1px solid var(--line); }
.brand { display: flex; gap: var(--s2); align-items: center; margin: 0; font-size: 20px; line-height: 1.2; }
.tagline { color: var(--muted); font-size: 14px; font-weight: 400; margin-left: var(--s1); }
.account p { margin: 0; display: flex; flex-wrap: wrap; gap: var(--s2); align-items: center; }

.layout { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: var(--s3); max-width: 72rem;
  margin: var(--s4) auto; padding: 0 var(--s4); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); box-shadow: var(--shadow);
  padding: var(--s4); min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.section-head { display: flex; flex-wrap: wrap; gap: var(--s2) var(--s3); align-items: center; justify-content: space-between;
  margin-bottom: var(--s2); }
.section-head h2 { margin: 0; }
.inline-field { display: flex; gap: var(--s2); align-items: center; margin: 0; font-size: 14px; }
.segmented { display: inline-flex; gap: var(--s1); }
.state { color: var(--muted); padding: var(--s3); border: 1px dashed var(--line); border-radius: 8px; text-align: center; }
.state.error { color: var(--danger); border-color: var(--danger); background: var(--danger-soft); }

.drop { display: flex; flex-direction: column; gap: var(--s1); align-items: center; justify-content: center; min-height: 120px;
  padding: var(--s4); border: 2px dashed #9aa5b4; border-radius: var(--radius); text-align: center; cursor: pointer; }
.drop .like-link { color: var(--accent); text-decoration: underline; }
.drop.over { border-color: var(--accent); background: var(--accent-soft); }
.drop[aria-disabled="true"] { cursor: not-allowed; color: var(--muted); background: #f7f8fa; }
#files:focus-visible + .drop { outline: 3px solid var(--accent); outline-offset: 2px; }

.transfers { list-style: none; padding: 0; margin: var(--s3) 0 0; display: grid; gap: var(--s2); }
.transfer { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: var(--s1) var(--s2); align-items: center;
  padding: var(--s2) var(--s3); border: 1px solid var(--line); border-radius: 8px; }
.transfer progress { grid-column: 1 / -1; width: 100%; height: 8px; accent-color: var(--accent); }
.transfer .detail { grid-column: 1 / -1; font-size: 13px; color: var(--muted); }
.transfer.done .detail { color: var(--ok); }
.transfer.failed { border-color: var(--danger); background: var(--danger-soft); }
.transfer.failed .detail { color: var(--danger); }

.name { display: block; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 600; }
.name:focus { white-space: normal; overflow-wrap: anywhere; }

.objects { list-style: none; padding: 0; margin: 0; }
.objects.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: var(--s3); }
.objects.list { display: grid; gap: var(--s2); }
.object { display: grid; grid-template-columns: minmax(0, 1fr); gap: var(--s2); padding: var(--s2); border: 1px solid var(--line);
  border-radius: 8px; min-width: 0; }
.objects.list .object { grid-template-columns: 56px minmax(0, 1fr) auto; align-items: center; }
.thumb { display: grid; place-items: center; aspect-ratio: 4 / 3; overflow: hidden; border-radius: 6px; background: #eef1f5;
  color: var(--muted); font-size: 13px; font-weight: 600; }
.objects.list .thumb { width: 56px; }
.thumb img, .thumb video { width: 100%; height: 100%; object-fit: cover; }
.fields { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0 var(--s2); margin: 0; font-size: 13px; }
.fields dt { color: var(--muted); }
.fields dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.objects.grid .fields .optional { display: none; }
.actions { display: flex; flex-wrap: wrap; gap: var(--s1); }
.actions button { min-height: 32px; padding: 0 var(--s2); font-size: 13px; white-space: nowrap; }
/* A grid card is narrow: its buttons sit two by two, each on one line, never a ragged wrap. */
.objects.grid .actions { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); }
.objects.grid .actions button { padding: 0 var(--s1); overflow: hidden; text-overflow: ellipsis; }
.objects.grid .actions .confirm { grid-column: 1 / -1; }
.note .link-field { display: block; width: 100%; margin: var(--s1) 0; font: 12px ui-monospace, monospace; padding: 4px 6px;
  border: 1px solid var(--line); border-radius: 6px; color: var(--text); background: var(--card); box-sizing: border-box; }
.transfer.question .confirm { display: flex; flex-wrap: wrap; gap: var(--s1); align-items: center; }
.confirm { display: flex; flex-wrap: wrap; gap: var(--s1); align-items: center; font-size: 13px; }
.note { font-size: 13px; color: var(--ok); margin: 0; }
.note.error { color: var(--danger); }
.preview { margin-top: var(--s3); }
.preview img, .preview video { max-width: 100%; max-height: 28rem; border-radius: 8px; }

.shares { list-style: none; padding: 0; margin: 0; display: grid; gap: var(--s2); }
.share { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: var(--s1) var(--s3); align-items: center;
  padding: var(--s2) var(--s3); border: 1px solid var(--line); border-radius: 8px; }
.share .info { display: grid; gap: 2px; min-width: 0; }
.share .link { font-family: ui-monospace, monospace; font-size: 12px; overflow-wrap: anywhere; color: var(--muted); }
.share .link.unavailable { font-family: inherit; font-size: 13px; }

.pairs { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: var(--s1) var(--s3); margin: 0; font-size: 14px; }
.pairs dt { font-weight: 600; }
.pairs dd { margin: 0; overflow-wrap: anywhere; }

/* Toasts never take a click meant for the page under them (a Delete button, say): they hold no
   control, and pointers pass through them. */
.toasts { position: fixed; right: var(--s3); bottom: var(--s3); display: grid; gap: var(--s2); z-index: 10; max-width: min(28rem, calc(100vw - 32px));
  pointer-events: none; }
.toast { display: flex; gap: var(--s2); align-items: center; padding: var(--s2) var(--s3); border-radius: 8px; background: #1b1f24;
  color: #fff; box-shadow: var(--shadow); font-size: 14px; }
.toast.error { background: var(--danger); }

@media (max-width: 44rem) {
  .layout { grid-template-columns: minmax(0, 1fr); padding: 0 var(--s2); margin: var(--s3) auto; }
  .card { padding: var(--s3); }
  .bar { padding: var(--s2) var(--s3); }
  .tagline { display: none; }
  .objects.list .object { grid-template-columns: 56px minmax(0, 1fr); }
  .objects.list .actions { grid-column: 1 / -1; }
  .toasts { left: var(--s2); right: var(--s2); bottom: var(--s2); max-width: none; }
}
`;
