// The users table (DCImanager /user): owners of servers, passwords hashed with scrypt.
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';
import { hashPassword } from '../../auth/passwords.js';
import { RackhandError } from '../../errors.js';

export interface UserRecord {
  id: number;
  email: string;
  fullName: string;
  phoneNumber: string;
  role: string;
  vlansPerUser: number;
  serverCount: number;
  createdAt: string;
}

interface UserRow {
  id: number;
  email: string;
  full_name: string;
  phone_number: string;
  role: string;
  vlans_per_user: number;
  server_count: number;
  created_at: string;
}

export class UsersRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  create(u: { email: string; fullName?: string; phoneNumber?: string; role?: string; password?: string }): UserRecord {
    try {
      const r = this.sql(
          'INSERT INTO users (email, full_name, phone_number, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(u.email, u.fullName ?? '', u.phoneNumber ?? '', u.role ?? 'user', u.password ? hashPassword(u.password) : null, nowIso());
      return this.get(Number(r.lastInsertRowid))!;
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new RackhandError('CONFLICT', `a user with email ${u.email} exists`, { field: 'email' });
      }
      throw e;
    }
  }

  get(id: number): UserRecord | undefined {
    const r = this.sql(`${SELECT} WHERE u.id = ?`).get(id) as UserRow | undefined;
    return r ? toRecord(r) : undefined;
  }

  findByEmail(email: string): UserRecord | undefined {
    const r = this.sql(`${SELECT} WHERE u.email = ? COLLATE NOCASE`).get(email) as UserRow | undefined;
    return r ? toRecord(r) : undefined;
  }

  list(page: { limit: number; offset: number }): { list: UserRecord[]; total: number } {
    const total = (this.sql('SELECT count(*) AS n FROM users').get() as { n: number }).n;
    const rows = this.sql(`${SELECT} ORDER BY u.id LIMIT ? OFFSET ?`).all(page.limit, page.offset) as UserRow[];
    return { list: rows.map(toRecord), total };
  }
}

const SELECT = `SELECT u.*, (SELECT count(*) FROM servers s WHERE s.owner_id = u.id) AS server_count FROM users u`;

function toRecord(r: UserRow): UserRecord {
  return {
    id: r.id,
    email: r.email,
    fullName: r.full_name,
    phoneNumber: r.phone_number,
    role: r.role,
    vlansPerUser: r.vlans_per_user,
    serverCount: r.server_count,
    createdAt: r.created_at,
  };
}
