//! Logging: `tracing` to stdout as pretty text or JSON (config `log.format`), level from
//! `RUST_LOG` or `log.level`. Also a panic hook that reports where a panic happened but scrubs long
//! digit runs from its message, so a PAN can never reach the log through a panic.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call twice (the second call is ignored).
pub fn init<W>(format: LogFormat, level: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_target(false);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    // Already initialised (tests, or a second Application in one process): keep the first.
    drop(result);
    install_panic_hook();
}

/// Replaces runs of 6+ digits with `<digits>`.
pub fn scrub_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |out: &mut String, run: &mut String| {
        if run.len() >= 6 {
            out.push_str("<digits>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut out, &mut run);
            out.push(c);
        }
    }
    flush(&mut out, &mut run);
    out
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(location = %location, message = %scrub_digits(&message), "panic");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_digit_runs_are_scrubbed() {
        assert_eq!(
            scrub_digits("pan 4111111111111111 at 12:30"),
            "pan <digits> at 12:30"
        );
        assert_eq!(scrub_digits("otp 123456"), "otp <digits>");
        assert_eq!(scrub_digits("code 111"), "code 111");
    }
}
