import { ConfigError } from '../config/index.js';

export interface CliLog {
  info(msg: string): void;
  warn(msg: string): void;
}

const log: CliLog = {
  info: (m) => console.log(m),
  warn: (m) => console.error(m),
};

/** Runs a command-line entry point: prints errors without stack noise for the expected ones, sets the exit code. */
export function runCli(main: (log: CliLog) => Promise<number>): void {
  main(log).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof ConfigError) console.error(error.message);
      else console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
