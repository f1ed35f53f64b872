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
