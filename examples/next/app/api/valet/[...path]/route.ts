// Every issuer route, under /api/valet: one catch-all file.
import { valet } from '../../../../lib/valet';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

async function handle(request: Request): Promise<Response> {
  return (await valet()).fetch(request);
}

export { handle as DELETE, handle as GET, handle as OPTIONS, handle as POST };
