import type http from 'node:http';
/**
 * Waits for SIGTERM or SIGINT, then runs `stop` once; resolves with the exit status
 * (0 after a clean stop, 1 if stopping failed). SIGHUP runs `onHangup` when given.
 */
export function untilSignal(
  stop: (signal: string) => Promise<void>,
  onHangup?: () => void,
  report: (error: unknown) => void = () => {},
): Promise<number> {
  return new Promise<number>((resolve) => {
    const handle = (signal: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      if (onHangup) process.off('SIGHUP', onHangup);
      stop(signal).then(
        () => resolve(0),
        (error) => {
          report(error);
          resolve(1);
        },
      );
    };
    const onTerm = () => handle('SIGTERM');
    const onInt = () => handle('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    if (onHangup) process.on('SIGHUP', onHangup);
  });
}

/**
 * Stops an HTTP server: no new connections; idle kept-alive ones closed at once; a request still
 * arriving on a kept-alive connection (a client that polls, like storage's revocation feed) is
 * answered with `Connection: close`, so that connection ends with it; whatever is still open after
 * `grace` ms is cut. Node's own `close()` waits for every kept-alive connection to go idle for its
 * keep-alive timeout, which a client polling more often than that never lets happen.
 */
export async function closeHttpServer(server: http.Server, grace = 10_000): Promise<void> {
  server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.setHeader('Connection', 'close');
  });
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), grace);
  timer.unref();
  await closed;
  clearTimeout(timer);
}
