// Package pgstore is the PostgreSQL backend of the cloud service
// (cloud.Backend): readings in a table partitioned by time, series in a
// table of their own, the cloud's metadata (acknowledged sequences, edge
// registrations, synced records) in a key-value table. Several cloud
// processes may share one database.
//
// # Configuration
//
//	storage:
//	  backend: postgres
//	  postgres:
//	    url: postgres://edgevault@db.example:5432/edgevault?sslmode=verify-full
//	    layout: partitioned   # or plain (TimescaleDB, below); only read when creating the schema
//	    partition: 24h        # span of one partition, a whole number of hours
//	    max_conns: 16
//	    timeout: 30s
//
// or `edgevault cloud --postgres URL`. The role needs CREATE on the
// database (migrations create the schema edgevault) and permission to create
// temporary tables. Connect directly or through a session-pooling proxy:
// the staging table is a per-session temporary table.
//
// # Schema (schema edgevault)
//
//	schema_migrations (version int PK, name, applied_at)
//	series (id bigint identity PK, edge text, device text, metric text, tags jsonb, kind text,
//	        created_at; UNIQUE (edge, device, metric, tags))
//	points (series_id bigint, ts timestamptz, f float8, i int8, b bool, s text,
//	        PRIMARY KEY (series_id, ts), CHECK exactly one of f, i, b, s is not NULL)
//	        PARTITION BY RANGE (ts): points_YYYYMMDD (points_YYYYMMDD_HH below a day)
//	meta (key bytea PK, value bytea)
//
// A series is identified as in the embedded store by device, metric and
// tags; the cloud's _edge tag is kept in the edge column and the other tags
// in tags, a JSON object. Its kind is that of its first reading and picks
// the value column: float f, int i, bool b, string s. Time is Unix
// milliseconds inside edgevault and ts here (readings outside the years 1
// to 9999 are rejected). points has no foreign key to series, which keeps
// COPY fast and leaves TimescaleDB and Citus free to place the rows.
//
// # Migrations
//
// Open applies the missing migrations in version order, each in its own
// transaction recorded in schema_migrations, while holding a session-level
// advisory lock, so cloud processes starting together against one database
// apply each migration once. A released migration never changes; a schema
// change is a new version.
//
// # Writes
//
// Append validates and converts readings like the embedded store, creates
// unknown series (INSERT ... ON CONFLICT DO NOTHING, one round trip for all
// of a batch), creates missing partitions (CREATE TABLE IF NOT EXISTS ...
// PARTITION OF under a transaction advisory lock), keeps the last reading of
// each series and millisecond, and then:
//
//  1. COPYs the rows straight into points in one transaction. New data, the
//     common case, is stored at COPY speed.
//  2. If a row already exists (unique violation: a retried batch, a resend
//     after the cloud forgot an acknowledgement), that transaction rolls
//     back and the rows are COPYed into a temporary staging table and moved
//     with INSERT ... ON CONFLICT (series_id, ts) DO UPDATE ... WHERE the
//     value differs. A retried batch therefore changes no row; a changed
//     value overwrites, as in the embedded store.
//
// # Queries
//
// Raw points are a range scan of the primary key in the pruned partitions.
// Aggregates are computed by PostgreSQL per epoch-aligned bucket of Step
// milliseconds: count, sum, avg, min, max with GROUP BY, first and last with
// DISTINCT ON. Series lists the series table (MinT and MaxT are not kept
// and are 0).
//
// # Several processes
//
// Readings and records are idempotent by key. The cloud's acknowledged set
// of an edge is read-modify-written with UpdateMeta: one transaction holding
// an advisory lock on the key reads the stored set, adds the sequence and
// writes it back, so acknowledgements from several processes are never lost
// (cloud.SharedBackend).
//
// # TimescaleDB
//
// create_hypertable needs a table that is not declaratively partitioned, so
// choose layout: plain before the first start; the migration then creates
// points without PARTITION BY and the backend never creates partitions
// (it also recognises a hypertable at later starts). After the first start
// (or with data already in it, thanks to migrate_data):
//
//	CREATE EXTENSION IF NOT EXISTS timescaledb;
//	SELECT create_hypertable('edgevault.points', by_range('ts', INTERVAL '1 day'), migrate_data => true);
//	-- TimescaleDB before 2.13: create_hypertable('edgevault.points', 'ts',
//	--                            chunk_time_interval => INTERVAL '1 day', migrate_data => true)
//	-- optional compression (upserts into compressed chunks need 2.11 or later):
//	ALTER TABLE edgevault.points SET (timescaledb.compress,
//	    timescaledb.compress_segmentby = 'series_id', timescaledb.compress_orderby = 'ts');
//	SELECT add_compression_policy('edgevault.points', INTERVAL '7 days');
//
// The primary key (series_id, ts) contains the time column, as hypertables
// require. An existing partitioned points table cannot become a hypertable:
// start from a new database (or dump and reload the rows).
//
// # Citus
//
// Both layouts can be distributed by series, since every unique key holds
// series_id:
//
//	CREATE EXTENSION IF NOT EXISTS citus;
//	SELECT create_reference_table('edgevault.series');
//	SELECT create_reference_table('edgevault.meta');
//	SELECT create_distributed_table('edgevault.points', 'series_id');
//
// Citus propagates partitions created later on a distributed partitioned
// table. These commands are documented from the TimescaleDB and Citus
// manuals; the tests run on plain PostgreSQL only.
package pgstore
