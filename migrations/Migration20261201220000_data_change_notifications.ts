import { Migration } from '@mikro-orm/migrations';

/**
 * Statement-level triggers that `pg_notify('settle_data_changed', <organization id>)` once per organization a
 * statement touched, on every tenant table (every table with an `organization_id`, and `organization` itself). The
 * GraphQL read cache (docs/decisions/0004-graphql-read-cache.md) listens to the channel and drops the organization's
 * cached answers. NOTIFY is delivered at commit, once per distinct payload per transaction, and not at all on rollback.
 *
 * Triggers and functions are not part of the entities' schema diff (test/migrations.test.ts), so nothing else changes.
 * A table added later must get the same three triggers: test/graphql-read-cache.test.ts lists the tenant tables without.
 */
export class Migration20261201220000_data_change_notifications extends Migration {

  override name = 'Migration20261201220000_data_change_notifications';

  override up(): void | Promise<void> {
    this.addSql(`create function "settle_notify_changed_new"() returns trigger language plpgsql as $$
declare org uuid;
begin
  for org in execute format('select distinct %I from new_rows where %I is not null', TG_ARGV[0], TG_ARGV[0]) loop
    perform pg_notify('settle_data_changed', org::text);
  end loop;
  return null;
end $$;`);
    this.addSql(`create function "settle_notify_changed_old"() returns trigger language plpgsql as $$
declare org uuid;
begin
  for org in execute format('select distinct %I from old_rows where %I is not null', TG_ARGV[0], TG_ARGV[0]) loop
    perform pg_notify('settle_data_changed', org::text);
  end loop;
  return null;
end $$;`);
    this.addSql(`create function "settle_notify_changed_both"() returns trigger language plpgsql as $$
declare org uuid;
begin
  for org in execute format('select %I from new_rows where %I is not null union select %I from old_rows where %I is not null',
                            TG_ARGV[0], TG_ARGV[0], TG_ARGV[0], TG_ARGV[0]) loop
    perform pg_notify('settle_data_changed', org::text);
  end loop;
  return null;
end $$;`);
    // Every tenant table of this schema, as the migrations made it; the organization row itself is keyed by `id`.
    this.addSql(`do $$
declare t record;
begin
  for t in select c.relname as tbl, case when c.relname = 'organization' then 'id' else 'organization_id' end as col
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = current_schema() and c.relkind in ('r', 'p')
              and (c.relname = 'organization'
                   or exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'organization_id' and not a.attisdropped))
  loop
    execute format('create trigger settle_changed_ins after insert on %I referencing new table as new_rows for each statement execute function settle_notify_changed_new(%L)', t.tbl, t.col);
    execute format('create trigger settle_changed_upd after update on %I referencing old table as old_rows new table as new_rows for each statement execute function settle_notify_changed_both(%L)', t.tbl, t.col);
    execute format('create trigger settle_changed_del after delete on %I referencing old table as old_rows for each statement execute function settle_notify_changed_old(%L)', t.tbl, t.col);
  end loop;
end $$;`);
  }

  override down(): void | Promise<void> {
    // Dropping the functions drops the triggers that use them.
    this.addSql(`drop function if exists "settle_notify_changed_new"() cascade;`);
    this.addSql(`drop function if exists "settle_notify_changed_old"() cascade;`);
    this.addSql(`drop function if exists "settle_notify_changed_both"() cascade;`);
  }
}
