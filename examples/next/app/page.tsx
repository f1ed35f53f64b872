'use client';
// A file goes straight from the browser to storage, with a key from /api/valet.
import { useState } from 'react';
import { createClient } from 'valet/client';

export default function Page() {
  const [status, setStatus] = useState('choose a file');
  async function upload(file: File) {
    const valet = createClient({
      issuer: new URL('/api/valet', window.location.origin).href,
      getToken: () => 'alice', // your user's session token
    });
    setStatus('uploading…');
    const { object } = await valet.upload(file, {
      name: file.name,
      onProgress: ({ loaded, total }) => setStatus(`uploading ${loaded} of ${total}`),
    });
    const link = await valet.share(object, { ttl: 600 });
    setStatus(`stored ${object}, shared at ${link.url}`);
  }
  return (
    <main>
      <h1>Valet in Next.js</h1>
      <input
        type="file"
        onChange={(event) => {
          const file = event.target.files?.[0];
          if (file) upload(file).catch((error: Error) => setStatus(`failed: ${error.message}`));
        }}
      />
      <p id="status">{status}</p>
    </main>
  );
}
