//! A small blocking connection pool over tokio-postgres. Connections are driven by a private
//! one-thread tokio runtime owned by the pool; callers block on client futures with a plain
//! executor, so the store's synchronous `Tx` boundary works from any thread (blocking-pool threads,
//! CLI tools, startup code already inside an async runtime) without nesting runtimes.
//! Broken connections are dropped and replaced lazily: a database that comes back is used again
//! without a restart. No data lives here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

/// How long a caller waits for a free connection before the store reports itself unavailable.
const CHECKOUT_WAIT: Duration = Duration::from_secs(5);

/// One live connection and the statements prepared on it (prepared once per connection: every
/// later use is a single round trip).
pub struct PgConn {
    pub client: Client,
    statements: RefCell<HashMap<&'static str, Statement>>,
}

/// Statement parameters.
pub type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl PgConn {
    fn statement(&self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = block_on(self.client.prepare(sql))?;
        self.statements.borrow_mut().insert(sql, statement.clone());
        Ok(statement)
    }

    pub fn query(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let statement = self.statement(sql)?;
        block_on(self.client.query(&statement, params))
    }

    pub fn query_opt(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        let statement = self.statement(sql)?;
        block_on(self.client.query_opt(&statement, params))
    }

    pub fn execute(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<u64, tokio_postgres::Error> {
        let statement = self.statement(sql)?;
        block_on(self.client.execute(&statement, params))
    }

    /// Unprepared statements (transaction control, session settings).
    pub fn batch(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        block_on(self.client.batch_execute(sql))
    }
}

/// Why no connection could be had.
#[derive(Debug)]
pub enum PoolError {
    /// Connecting failed (refused, timed out, authentication, unknown database, …).
    Connect(String),
    /// Every connection stayed busy for [`CHECKOUT_WAIT`].
    Exhausted,
}

struct State {
    idle: Vec<PgConn>,
    /// Connections checked out or being opened.
    busy: usize,
}

pub struct Pool {
    config: tokio_postgres::Config,
    size: usize,
    statement_timeout_ms: u64,
    /// `Some` until the pool drops; shut down in the background so a drop inside an async
    /// context never blocks.
    runtime: Option<tokio::runtime::Runtime>,
    state: Mutex<State>,
    freed: Condvar,
}

/// Runs a future to completion on the calling thread. Client futures only talk to the
/// connection task over channels, so they need no reactor of their own.
pub fn block_on<F: Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}

impl Pool {
    pub fn new(
        config: tokio_postgres::Config,
        size: usize,
        statement_timeout_ms: u64,
    ) -> std::io::Result<Pool> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("store-postgres-io")
            .enable_all()
            .build()?;
        Ok(Pool {
            config,
            size: size.max(1),
            statement_timeout_ms,
            runtime: Some(runtime),
            state: Mutex::new(State {
                idle: Vec::new(),
                busy: 0,
            }),
            freed: Condvar::new(),
        })
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        match &self.runtime {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the runtime lives as long as the pool"),
        }
    }

    /// Opens one connection: TCP/socket connect with the configured timeout, the connection task
    /// spawned on the pool's runtime, then the session's statement timeout.
    fn connect(&self) -> Result<PgConn, PoolError> {
        let config = self.config.clone();
        let task = self.handle().spawn(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                // Ends when the client is dropped or the server goes away; either way the
                // client sees `is_closed()` and the pool discards it.
                let _ = connection.await;
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        let client = block_on(task)
            .map_err(|e| PoolError::Connect(e.to_string()))?
            .map_err(|e| PoolError::Connect(describe(&e)))?;
        let setup = format!(
            "SET statement_timeout = {}; SET application_name = 'tsh-issuer'",
            self.statement_timeout_ms
        );
        block_on(client.batch_execute(&setup)).map_err(|e| PoolError::Connect(describe(&e)))?;
        Ok(PgConn {
            client,
            statements: RefCell::default(),
        })
    }

    /// A connection for exclusive use until the guard drops. Waits up to [`CHECKOUT_WAIT`] when
    /// all `size` connections are busy.
    pub fn get(&self) -> Result<Pooled<'_>, PoolError> {
        let deadline = Instant::now() + CHECKOUT_WAIT;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            while let Some(conn) = state.idle.pop() {
                if !conn.client.is_closed() {
                    state.busy += 1;
                    return Ok(Pooled {
                        pool: self,
                        conn: Some(conn),
                    });
                }
            }
            if state.busy < self.size {
                state.busy += 1;
                drop(state);
                return match self.connect() {
                    Ok(conn) => Ok(Pooled {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.release(None);
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(PoolError::Exhausted);
            }
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn release(&self, conn: Option<PgConn>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.busy = state.busy.saturating_sub(1);
        if let Some(conn) = conn.filter(|c| !c.client.is_closed()) {
            state.idle.push(conn);
        }
        drop(state);
        self.freed.notify_one();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A checked-out connection; returned to the pool on drop (or discarded with [`Pooled::discard`]).
pub struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<PgConn>,
}

impl Pooled<'_> {
    pub fn conn(&self) -> &PgConn {
        match self.conn.as_ref() {
            Some(conn) => conn,
            None => unreachable!("a pooled connection is present until drop"),
        }
    }

    /// Closes this connection instead of reusing it (its session state is unknown).
    pub fn discard(mut self) {
        self.conn = None;
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        self.pool.release(self.conn.take());
    }
}

/// The server's message and SQLSTATE when there is one, else the client-side cause.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}
