//! psql steps: the real `psql` run against the target with a conninfo, its first line of
//! output or error recorded (the port and host normalized).

use super::Client;

impl Client<'_> {
    pub(super) fn psql(&mut self, conninfo: &str, query: &str, unix: bool) {
        self.trace
            .sent(format!("psql \"{conninfo}\" -c \"{query}\""));
        let host = match (unix, self.server.and_then(|s| s.unix_socket())) {
            (true, Some(socket)) => socket
                .parent()
                .map_or_else(String::new, |d| d.display().to_string()),
            _ => self.endpoint.addr.ip().to_string(),
        };
        let conninfo = if conninfo.contains("{pki}") {
            match crate::setup::pki() {
                Ok(p) => conninfo.replace("{pki}", &p.dir().display().to_string()),
                Err(e) => return self.trace.harness_error(e.to_string()),
            }
        } else {
            conninfo.to_owned()
        };
        let full = format!("host={host} port={} {conninfo}", self.endpoint.addr.port());
        let out = std::process::Command::new("psql")
            .args([full.as_str(), "-X", "-A", "-t", "-c", query])
            .env("PGCONNECT_TIMEOUT", "5")
            .output();
        match out {
            Err(e) => self
                .trace
                .harness_error(format!("psql not runnable: {e} (run scripts/install-deps)")),
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                self.trace
                    .saw(format!("psql ok: {}", text.trim().replace('\n', " / ")));
            }
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stderr);
                let first = crate::normalize::psql_message(
                    text.lines().next().unwrap_or(""),
                    self.endpoint.addr.port(),
                    &host,
                );
                self.trace.saw(format!("psql failed: {first}"));
            }
        }
    }
}
