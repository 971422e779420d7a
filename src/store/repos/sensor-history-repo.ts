// The sensor_readings table: append a sample batch, read a server's history per sensor, prune by age.
import type { Db } from '../sqlite-store.js';
import { statements } from '../sqlite-store.js';
import type { SensorReading, SensorStatus } from '../../bmc/bmc-driver.js';

export interface SensorPoint {
  at: string; // ISO time of the sample
  value: number | null;
  status: SensorStatus;
}

export interface SensorSeries {
  name: string;
  type: string;
  unit: string;
  points: SensorPoint[];
}

export interface LatestSensorValue {
  serverId: number;
  at: string;
  name: string;
  type: string;
  unit: string;
  value: number | null;
  status: SensorStatus;
}

interface Row {
  server_id: number;
  at: number;
  name: string;
  type: string;
  value: number | null;
  unit: string;
  status: SensorStatus;
}

export class SensorHistoryRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  /** One sample of a server: every reading stored under the same time. */
  append(serverId: number, readings: SensorReading[], at: Date = new Date()): number {
    const insert = this.sql('INSERT INTO sensor_readings (server_id, at, name, type, value, unit, status) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const ms = at.getTime();
    this.db.transaction(() => {
      for (const r of readings) {
        const value = typeof r.value === 'number' && Number.isFinite(r.value) ? r.value : null;
        insert.run(serverId, ms, r.name, r.type, value, r.unit ?? '', r.status);
      }
    })();
    return readings.length;
  }

  /**
   * A server's readings in [from, to], grouped per sensor, oldest first. With more samples than
   * maxPoints a sensor's series is thinned evenly (the last point is always kept) so a chart stays cheap.
   */
  history(serverId: number, window: { from: Date; to?: Date; maxPoints?: number }): SensorSeries[] {
    const to = window.to ?? new Date();
    const rows = this.sql('SELECT * FROM sensor_readings WHERE server_id = ? AND at >= ? AND at <= ? ORDER BY name, at').all(
      serverId,
      window.from.getTime(),
      to.getTime(),
    ) as Row[];
    const bySensor = new Map<string, SensorSeries>();
    for (const r of rows) {
      let s = bySensor.get(r.name);
      if (!s) bySensor.set(r.name, (s = { name: r.name, type: r.type, unit: r.unit, points: [] }));
      s.points.push({ at: new Date(r.at).toISOString(), value: r.value, status: r.status });
    }
    const max = window.maxPoints ?? 0;
    const out = [...bySensor.values()];
    if (max > 1) for (const s of out) s.points = thin(s.points, max);
    return out;
  }

  /**
   * The newest sample of every server (for /metrics), ordered by server and sensor, read `servers` servers at a time
   * as the caller takes them: a caller that yields between pages never holds the event loop for a whole site's rows.
   */
  *latest(servers = 200): Generator<LatestSensorValue> {
    const read = this.sql(
      `SELECT r.* FROM sensor_readings r
       JOIN (SELECT server_id, max(at) AS at FROM sensor_readings WHERE server_id > ? GROUP BY server_id ORDER BY server_id LIMIT ?) m
         ON r.server_id = m.server_id AND r.at = m.at
       ORDER BY r.server_id, r.name`,
    );
    for (let after = 0; ; ) {
      const rows = read.all(after, servers) as Row[];
      for (const r of rows) {
        yield { serverId: r.server_id, at: new Date(r.at).toISOString(), name: r.name, type: r.type, unit: r.unit, value: r.value, status: r.status };
      }
      if (rows.length === 0) return;
      after = rows[rows.length - 1].server_id;
    }
  }

  /** Delete samples older than `before`; returns how many rows went. */
  prune(before: Date): number {
    return this.sql('DELETE FROM sensor_readings WHERE at < ?').run(before.getTime()).changes;
  }

  count(serverId?: number): number {
    const r = (serverId === undefined
      ? this.sql('SELECT count(*) AS n FROM sensor_readings').get()
      : this.sql('SELECT count(*) AS n FROM sensor_readings WHERE server_id = ?').get(serverId)) as { n: number };
    return r.n;
  }
}

function thin<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  const step = (points.length - 1) / (max - 1);
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * step)]);
  return out;
}
