// CPU accounting for the benchmarks: the machine's and the PostgreSQL backends' (PostgreSQL runs on this machine).
import { readFileSync } from 'node:fs';
import type pg from 'pg';

/** CPU time of the whole machine so far (ms, from /proc/stat: busy = everything but idle and iowait). */
export function machineCpu(): { busy: number; total: number } {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const ticks = fields.map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busy: ((total - idle) * 1000) / 100, total: (total * 1000) / 100 };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** CPU time (ms) of each PostgreSQL backend connected to the bench's database, from /proc (PostgreSQL runs on this machine). */
export async function backendCpu(db: pg.Client): Promise<Map<number, number>> {
  const { rows } = await db.query<{ pid: number }>(`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`);
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100);
    } catch {
      // not visible from here
    }
  }
  return out;
}
