//! Latency over time (`--series FILE`): every `--series-every` seconds of the sending phase
//! (warm-up included), one CSV row with the deliveries of that window and their delivery
//! latency quantiles, written as it ends so a long run can be watched and a killed one
//! keeps what it measured.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::load::Load;

/// The CSV's header line.
const HEADER: &str = "unix_s,elapsed_s,members,deliveries,p50_us,p99_us,max_us";

/// The series file and its clock.
pub(super) struct Series {
    out: BufWriter<File>,
    every: Duration,
    started: Instant,
    next: Instant,
}

impl Series {
    /// Creates `path` (truncating it) and writes the header.
    pub(super) fn create(path: &Path, every: Duration) -> Result<Self, String> {
        let failed = |e: std::io::Error| format!("could not write {}: {e}", path.display());
        let mut out = BufWriter::new(File::create(path).map_err(failed)?);
        writeln!(out, "{HEADER}")
            .and_then(|()| out.flush())
            .map_err(failed)?;
        let started = Instant::now();
        Ok(Self {
            out,
            every,
            started,
            next: started + every,
        })
    }

    /// Writes the window's row if it ended by `now`.
    pub(super) fn tick(&mut self, now: Instant, load: &mut Load) -> Result<(), String> {
        if now < self.next {
            return Ok(());
        }
        self.next += self.every;
        self.write_row(now, load)
    }

    /// Writes the last window's row, however short, when the sending ends at `now`.
    pub(super) fn finish(&mut self, now: Instant, load: &mut Load) -> Result<(), String> {
        if now + self.every > self.next {
            self.write_row(now, load)?;
        }
        Ok(())
    }

    fn write_row(&mut self, now: Instant, load: &mut Load) -> Result<(), String> {
        let window = load.take_window();
        let us = |d: Duration| d.as_micros();
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let row = format!(
            "{unix:.1},{:.1},{},{},{},{},{}",
            now.duration_since(self.started).as_secs_f64(),
            load.member_count(),
            window.len(),
            us(window.quantile(0.50)),
            us(window.quantile(0.99)),
            us(window.max())
        );
        writeln!(self.out, "{row}")
            .and_then(|()| self.out.flush())
            .map_err(|e| format!("could not write the series: {e}"))
    }

    /// When the next row is due.
    pub(super) fn next_row(&self) -> Instant {
        self.next
    }
}
