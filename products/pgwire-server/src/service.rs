//! The handlers pgwire calls, as its examples write them: a no-authentication startup
//! (`NoopStartupHandler`: every user is trusted, as PostgreSQL's default `trust` rows do) and
//! a simple-query handler that answers `SELECT 1` and refuses anything else with an error
//! (the session goes on). Everything else is pgwire's default handler.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, stream};
use pgwire::api::auth::StartupHandler;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, METADATA_DATABASE, METADATA_USER, PgWireServerHandlers, Type,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::log;

/// One connection's handlers.
pub struct Service {
    session: Arc<Session>,
}

impl Service {
    /// Handlers that log each completed startup when `log_connections` is set.
    pub fn new(log_connections: bool) -> Self {
        Self {
            session: Arc::new(Session { log_connections }),
        }
    }
}

impl PgWireServerHandlers for Service {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.session.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.session.clone()
    }
}

/// The startup and simple-query handler.
pub struct Session {
    log_connections: bool,
}

#[async_trait]
impl NoopStartupHandler for Session {
    async fn post_startup<C>(
        &self,
        client: &mut C,
        _message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if self.log_connections {
            let get = |key: &str| client.metadata().get(key).cloned().unwrap_or_default();
            log::line(
                "LOG",
                &format!(
                    "connection authorized: user={} database={} peer={} tls={}",
                    get(METADATA_USER),
                    get(METADATA_DATABASE),
                    client.socket_addr(),
                    if client.is_secure() { "on" } else { "off" }
                ),
            );
        }
        Ok(())
    }
}

/// `SELECT 1`, any case, with or without a final semicolon.
fn is_select_1(query: &str) -> bool {
    let q = query.trim().trim_end_matches(';').trim_end();
    let mut words = q.split_whitespace();
    matches!(
        (words.next(), words.next(), words.next()),
        (Some(select), Some("1"), None) if select.eq_ignore_ascii_case("select")
    )
}

#[async_trait]
impl SimpleQueryHandler for Session {
    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
    {
        if !is_select_1(query) {
            return Ok(vec![Response::Error(Box::new(ErrorInfo::new(
                "ERROR".to_owned(),
                "0A000".to_owned(),
                format!("pgssl-pgwire-server answers only SELECT 1, not {query:?}"),
            )))]);
        }
        let schema = Arc::new(vec![FieldInfo::new(
            "?column?".into(),
            None,
            None,
            Type::INT4,
            FieldFormat::Text,
        )]);
        let mut encoder = DataRowEncoder::new(schema.clone());
        encoder.encode_field(&1i32)?;
        let row = encoder.take_row();
        Ok(vec![Response::Query(QueryResponse::new(
            schema,
            stream::iter([Ok(row)]),
        ))])
    }
}

#[cfg(test)]
mod tests {
    use super::is_select_1;

    #[test]
    fn only_select_1_is_answered() {
        for q in ["SELECT 1", "select 1;", "  Select   1 ; "] {
            assert!(is_select_1(q), "{q}");
        }
        for q in [
            "SELECT 2",
            "SELECT 1, 2",
            "SELECT",
            "SHOW ssl",
            "SELECT 1 1",
        ] {
            assert!(!is_select_1(q), "{q}");
        }
    }
}
