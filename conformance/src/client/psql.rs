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
        let pki = crate::setup::pki()
            .map(|p| p.dir().display().to_string())
            .unwrap_or_default();
        let conninfo = conninfo.replace("{pki}", &pki);
        let full = format!("host={host} port={} {conninfo}", self.endpoint.addr.port());
        let out = std::process::Command::new("psql")
            .args([full.as_str(), "-X", "-A", "-t", "-c", query])
            .env("PGCONNECT_TIMEOUT", "5")
            .output();
        match out {
            Err(e) => self.trace.saw(format!("psql not runnable: {e}")),
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                self.trace
                    .saw(format!("psql ok: {}", text.trim().replace('\n', " / ")));
            }
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stderr);
                let port = self.endpoint.addr.port().to_string();
                let first = text
                    .lines()
                    .next()
                    .unwrap_or("")
                    .replace(&port, "PORT")
                    .replace(&host, "HOST");
                self.trace.saw(format!("psql failed: {first}"));
            }
        }
    }
}
