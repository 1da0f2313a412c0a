//! What the service under load spent during exactly the timed phase of `tsh-sim load`: its CPU
//! (utime + stime of `--service-pid` from `/proc`, so a same-machine run only) and its store's
//! group-commit counters from its public `/metrics`. Card creation and reference lookups happen
//! before the first reading, so they are not charged to the measured requests.

use std::time::Duration;

/// One reading of the service.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    cpu: Duration,
    flushes: f64,
    writes: f64,
}

/// The difference between two readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub cpu: Duration,
    pub flushes: u64,
    pub writes: u64,
}

impl Reading {
    pub fn until(&self, later: &Reading) -> Usage {
        Usage {
            cpu: later.cpu.saturating_sub(self.cpu),
            flushes: (later.flushes - self.flushes).max(0.0) as u64,
            writes: (later.writes - self.writes).max(0.0) as u64,
        }
    }
}

/// Reads the process's CPU time and the service's store counters.
pub async fn read(client: &reqwest::Client, base: &str, pid: u32) -> Result<Reading, String> {
    let cpu = process_cpu(pid)?;
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("{base}/metrics: {e}"))?
        .text()
        .await
        .map_err(|e| format!("{base}/metrics: {e}"))?;
    Ok(Reading {
        cpu,
        flushes: metric_sum(&text, "tsh_issuer_store_flush_duration_seconds_count"),
        writes: metric_sum(&text, "tsh_issuer_store_writes_total"),
    })
}

/// utime + stime of `pid`, from `/proc/<pid>/stat` (fields 14 and 15, in clock ticks).
fn process_cpu(pid: u32) -> Result<Duration, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("--service-pid: {path}: {e}"))?;
    cpu_from_stat(&stat).ok_or_else(|| format!("--service-pid: {path}: unreadable"))
}

/// The fields after the command name (which may hold spaces), so they are split after the last `)`.
fn cpu_from_stat(stat: &str) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every architecture it exposes to userland.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The sum of every sample of one metric family in Prometheus text format.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let family = series.split('{').next()?;
            (family == name)
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let stat = "4242 (tsh issuer) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 130 0 0 20 0 8 0";
        assert_eq!(cpu_from_stat(stat), Some(Duration::from_millis(3800)));
        assert_eq!(cpu_from_stat("garbage"), None);
    }

    #[test]
    fn metric_families_are_summed_over_labels() {
        let text = "# TYPE x counter\nx_total{a=\"1\"} 3\nx_total{a=\"2\"} 4.5\nx_totally 100\n";
        assert_eq!(metric_sum(text, "x_total"), 7.5);
        assert_eq!(metric_sum(text, "absent"), 0.0);
    }

    #[test]
    fn usage_is_the_difference_of_two_readings() {
        let a = Reading {
            cpu: Duration::from_millis(100),
            flushes: 10.0,
            writes: 20.0,
        };
        let b = Reading {
            cpu: Duration::from_millis(350),
            flushes: 15.0,
            writes: 40.0,
        };
        assert_eq!(
            a.until(&b),
            Usage {
                cpu: Duration::from_millis(250),
                flushes: 5,
                writes: 20
            }
        );
    }
}
