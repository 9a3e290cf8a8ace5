// Progress for long CLI work: a bar on a terminal, occasional lines otherwise (logs, CI).
import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  update(done: number, total: number, label?: string): void;
  stop(): void;
}

export function progress(title: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new SingleBar({ format: `${title} [{bar}] {percentage}% {value}/{total} {label}`, stream, hideCursor: true }, Presets.shades_classic);
    let started = false;
    return {
      update(done, total, label = '') {
        if (!started) { bar.start(total, done, { label }); started = true; }
        bar.setTotal(total);
        bar.update(done, { label });
      },
      stop() { if (started) bar.stop(); },
    };
  }
  let last = -1;
  return {
    update(done, total, label = '') {
      const pct = Math.floor((100 * done) / Math.max(total, 1) / 10) * 10;
      if (pct !== last) { last = pct; stream.write(`${title}: ${pct}% (${done}/${total}) ${label}\n`); }
    },
    stop() { /* nothing buffered */ },
  };
}
