//! Versioned schema migrations for the PostgreSQL backend, applied at startup. Each migration runs
//! in its own transaction that first claims its version row: two instances starting at once race
//! on that primary key (the loser waits, then sees the version applied), so no advisory lock is
//! needed. A database migrated by a newer build is refused, never misread.
//!
//! Portability (PostgreSQL, CockroachDB, YugabyteDB): plain tables, `text`/`bigint` columns,
//! secondary indexes, one sequence; no extensions, triggers, stored procedures or advisory locks.
//! Records are JSON documents in `text` columns (not `jsonb`: it refuses `\u0000`, which a free-text
//! field may legitimately carry). Card data never reaches a column: the documents are the same
//! fingerprinted/masked records sled stores.

use tokio_postgres::Client;

use super::pool::{block_on, describe};
use crate::store::StoreError;

/// Migrations in order; version = index + 1. Never edit a released one: add a new one.
const MIGRATIONS: &[(&str, &str)] = &[(
    "initial schema",
    "CREATE TABLE IF NOT EXISTS cards (
         issuer_card_ref_id text PRIMARY KEY,
         last4 text NOT NULL,
         doc text NOT NULL
     );
     CREATE INDEX IF NOT EXISTS cards_by_last4 ON cards (last4);
     CREATE TABLE IF NOT EXISTS card_pan_fingerprints (
         pan_fingerprint text PRIMARY KEY,
         issuer_card_ref_id text NOT NULL
     );
     CREATE TABLE IF NOT EXISTS enrollments (
         correlation_id text PRIMARY KEY,
         doc text NOT NULL
     );
     CREATE TABLE IF NOT EXISTS decisions (
         decision_id bigint PRIMARY KEY,
         doc text NOT NULL
     );
     CREATE TABLE IF NOT EXISTS tokens (
         virtual_card_id text PRIMARY KEY,
         issuer_card_ref_id text NOT NULL,
         original_token_reference_id text,
         original_token_fingerprint text,
         token_reference_id text,
         token_number_fingerprint text,
         token_last4 text,
         original_virtual_card_id text,
         orphaned boolean NOT NULL DEFAULT false,
         doc text NOT NULL
     );
     CREATE INDEX IF NOT EXISTS tokens_by_card ON tokens (issuer_card_ref_id);
     CREATE INDEX IF NOT EXISTS tokens_by_original_reference
         ON tokens (original_token_reference_id);
     CREATE INDEX IF NOT EXISTS tokens_by_original_fingerprint
         ON tokens (original_token_fingerprint);
     CREATE INDEX IF NOT EXISTS tokens_by_own_reference ON tokens (token_reference_id);
     CREATE INDEX IF NOT EXISTS tokens_by_own_fingerprint ON tokens (token_number_fingerprint);
     CREATE INDEX IF NOT EXISTS tokens_by_parent ON tokens (original_virtual_card_id);
     CREATE INDEX IF NOT EXISTS tokens_by_last4 ON tokens (token_last4);
     CREATE INDEX IF NOT EXISTS tokens_orphaned ON tokens (orphaned);
     CREATE TABLE IF NOT EXISTS transitions (
         virtual_card_id text NOT NULL,
         seq bigint NOT NULL,
         doc text NOT NULL,
         PRIMARY KEY (virtual_card_id, seq)
     );
     CREATE TABLE IF NOT EXISTS seen_messages (
         message_fingerprint text PRIMARY KEY,
         received_time text NOT NULL
     );
     CREATE TABLE IF NOT EXISTS counter_cells (
         series bytea NOT NULL,
         level smallint NOT NULL,
         bucket bigint NOT NULL,
         shard smallint NOT NULL,
         n bigint NOT NULL,
         PRIMARY KEY (series, level, bucket, shard)
     );
     CREATE TABLE IF NOT EXISTS series_members (
         series bytea NOT NULL,
         member bytea NOT NULL,
         last_seen bigint NOT NULL,
         PRIMARY KEY (series, member)
     );
     CREATE INDEX IF NOT EXISTS series_members_by_time ON series_members (last_seen);
     CREATE TABLE IF NOT EXISTS tsh_operations (
         correlation_id text PRIMARY KEY,
         pending boolean NOT NULL DEFAULT false,
         doc text NOT NULL
     );
     CREATE INDEX IF NOT EXISTS tsh_operations_pending ON tsh_operations (pending);
     CREATE TABLE IF NOT EXISTS audit_entries (
         audit_id bigint PRIMARY KEY,
         doc text NOT NULL
     );
     CREATE TABLE IF NOT EXISTS outbox_events (
         event_seq bigint PRIMARY KEY,
         pending boolean NOT NULL,
         doc text NOT NULL
     );
     CREATE INDEX IF NOT EXISTS outbox_events_pending ON outbox_events (pending, event_seq);
     CREATE TABLE IF NOT EXISTS revoked_sessions (
         session_id text PRIMARY KEY,
         until bigint NOT NULL
     );
     CREATE TABLE IF NOT EXISTS token_syncs (
         virtual_card_id text PRIMARY KEY,
         has_check boolean NOT NULL,
         doc text NOT NULL
     );
     CREATE INDEX IF NOT EXISTS token_syncs_checks ON token_syncs (has_check);
     CREATE TABLE IF NOT EXISTS reconciliations (
         reconciliation_seq bigint PRIMARY KEY,
         doc text NOT NULL
     );
     CREATE SEQUENCE IF NOT EXISTS record_ids;",
)];

/// The newest schema version this build knows.
pub const LATEST: u64 = MIGRATIONS.len() as u64;

fn sql(what: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Io(format!("{what}: {}", describe(e)))
}

/// The highest applied version (0 for an empty database).
fn applied_version(client: &Client) -> Result<u64, StoreError> {
    let row = block_on(client.query_one(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        &[],
    ))
    .map_err(|e| sql("cannot read schema_migrations", &e))?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

/// Brings the database to [`LATEST`], or refuses a newer one.
pub fn migrate(client: &Client) -> Result<(), StoreError> {
    block_on(client.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version bigint PRIMARY KEY,
             name text NOT NULL,
             applied_time text NOT NULL
         )",
    ))
    .map_err(|e| sql("cannot create schema_migrations", &e))?;
    // A concurrent instance may win a version; the loser re-reads and moves on.
    for _round in 0..5 {
        let found = applied_version(client)?;
        if found > LATEST {
            return Err(StoreError::Schema {
                found,
                expected: LATEST,
            });
        }
        if found == LATEST {
            return Ok(());
        }
        match apply(client, found + 1) {
            Ok(()) => {}
            Err(e) if is_race(&e) => continue,
            Err(e) => return Err(sql(&format!("migration {} failed", found + 1), &e)),
        }
    }
    Err(StoreError::Io(
        "schema migration kept racing with another instance; restart to retry".to_owned(),
    ))
}

fn is_race(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
    )
}

fn apply(client: &Client, version: u64) -> Result<(), tokio_postgres::Error> {
    let (name, body) = MIGRATIONS[(version - 1) as usize];
    let version = version as i64;
    let now = crate::domain::time::now_rfc3339();
    block_on(async {
        client.batch_execute("BEGIN").await?;
        let result = async {
            // Claim the version first: a second instance blocks here until we commit.
            client
                .execute(
                    "INSERT INTO schema_migrations (version, name, applied_time) VALUES ($1, $2, $3)",
                    &[&version, &name, &now],
                )
                .await?;
            client.batch_execute(body).await
        }
        .await;
        match result {
            Ok(()) => client.batch_execute("COMMIT").await,
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    })?;
    tracing::info!(version, name, "store schema migrated");
    Ok(())
}
