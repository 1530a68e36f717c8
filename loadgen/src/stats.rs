//! Statistics: a server's rounds summed, latency percentiles, and the per-connection figures
//! derived from connections, seconds and CPU ticks.

use crate::Error;
use crate::drive::Tally;

/// The `p` quantile (0 to 1) of `sorted`, nearest rank; 0 for no samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One server's measurements summed over its rounds.
#[derive(Debug, Default)]
pub struct Totals {
    /// Connections completed.
    pub ok: u64,
    /// Connections that failed.
    pub failures: u64,
    /// Seconds of load.
    pub seconds: f64,
    /// Latency of each completed connection, ms.
    pub latencies: Vec<f64>,
    /// Server CPU ticks over the load, when the server's process is known.
    pub cpu_ticks: Option<u64>,
    /// The first failure.
    pub first_error: Option<Error>,
}

impl Totals {
    /// Adds one round: its connections over `seconds`, and the server's CPU ticks before and
    /// after when both were read.
    pub fn add_round(&mut self, round: Tally, seconds: f64, ticks: (Option<u64>, Option<u64>)) {
        self.ok += round.ok;
        self.failures += round.failures;
        self.seconds += seconds;
        self.latencies.extend(round.latencies);
        if let (Some(b), Some(a)) = ticks {
            *self.cpu_ticks.get_or_insert(0) += a.saturating_sub(b);
        }
        if let Some(e) = round.first_error {
            self.first_error.get_or_insert(e);
        }
    }

    /// The figures, with `tick_ms` milliseconds per clock tick.
    pub fn figures(&mut self, tick_ms: f64) -> Figures {
        self.latencies.sort_by(f64::total_cmp);
        let cpu_ms = self
            .cpu_ticks
            .filter(|_| self.ok > 0)
            .map(|ticks| ticks as f64 * tick_ms / self.ok as f64);
        Figures {
            connections_per_sec: self.ok as f64 / self.seconds.max(1e-9),
            server_cpu_ms_per_connection: cpu_ms,
            p50_ms: percentile(&self.latencies, 0.50),
            p99_ms: percentile(&self.latencies, 0.99),
            server_cores_busy: self
                .cpu_ticks
                .map(|ticks| ticks as f64 * tick_ms / 1000.0 / self.seconds.max(1e-9)),
            connections_per_server_cpu_sec: cpu_ms.filter(|ms| *ms > 0.0).map(|ms| 1000.0 / ms),
        }
    }
}

/// What [`Totals`] come to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// Completed connections per second.
    pub connections_per_sec: f64,
    /// Server CPU per completed connection, ms.
    pub server_cpu_ms_per_connection: Option<f64>,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Server CPU per second of load, in cores.
    pub server_cores_busy: Option<f64>,
    /// 1000 / server_cpu_ms_per_connection.
    pub connections_per_server_cpu_sec: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.50), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 0.5), 2.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn rounds_add_up_into_figures() {
        let mut t = Totals::default();
        let round = |ok, lat: &[f64]| Tally {
            ok,
            failures: 1,
            latencies: lat.to_vec(),
            first_error: None,
        };
        t.add_round(round(300, &[3.0, 1.0]), 1.5, (Some(100), Some(160)));
        t.add_round(round(100, &[2.0]), 0.5, (Some(200), Some(240)));
        // A round without a reading adds no ticks.
        t.add_round(round(0, &[]), 0.0, (None, Some(1)));
        assert_eq!((t.ok, t.failures, t.cpu_ticks), (400, 3, Some(100)));
        let f = t.figures(10.0);
        assert_eq!(t.latencies, [1.0, 2.0, 3.0]);
        assert_eq!(f.connections_per_sec, 200.0);
        // 100 ticks of 10 ms over 400 connections.
        assert_eq!(f.server_cpu_ms_per_connection, Some(2.5));
        assert_eq!(f.connections_per_server_cpu_sec, Some(400.0));
        // One second of CPU over two seconds of load.
        assert_eq!(f.server_cores_busy, Some(0.5));
        assert_eq!((f.p50_ms, f.p99_ms), (2.0, 3.0));
    }

    #[test]
    fn no_connections_no_cpu_per_connection() {
        let mut t = Totals::default();
        t.add_round(Tally::default(), 1.0, (Some(5), Some(9)));
        let f = t.figures(10.0);
        assert_eq!(f.server_cpu_ms_per_connection, None);
        assert_eq!(f.connections_per_server_cpu_sec, None);
        assert_eq!(f.server_cores_busy, Some(0.04));
        assert_eq!(f.connections_per_sec, 0.0);
    }

    #[test]
    fn the_first_error_of_the_first_round_stays() {
        let mut t = Totals::default();
        let failed = |e| Tally {
            first_error: Some(e),
            ..Tally::default()
        };
        t.add_round(failed(Error::ClosedBeforeReady), 1.0, (None, None));
        t.add_round(failed(Error::SslRefused(b'N')), 1.0, (None, None));
        assert!(matches!(t.first_error, Some(Error::ClosedBeforeReady)));
        assert_eq!(t.cpu_ticks, None);
    }
}
