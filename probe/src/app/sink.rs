//! Where probe results go: text, JSON streamed as an array, or JSON Lines envelopes, on
//! standard output or `-o FILE`; a closed stdout (`| head`) ends the run quietly.

use std::io::Write;

use crate::cli::OutFormat;

/// Results on stdout or `-o FILE`, JSON streamed so that memory stays flat in the number of
/// targets; a closed stdout (`| head`) ends the run quietly.
pub(crate) struct ResultSink {
    pub(crate) out: Box<dyn Write>,
    pub(crate) format: OutFormat,
    pub(crate) count: usize,
    pub(crate) closed: bool,
    /// The summary of every target written (text and jsonl print it for several targets).
    pub(crate) fleet: rdprobe::report::fleet::FleetSummary,
    /// `--clients`: the client matrix in text.
    pub(crate) show_clients: bool,
    /// `--color`: ANSI colours in text.
    pub(crate) paint: bool,
    /// `--html` and `--format nagios`: every result, for what is written at the end.
    pub(crate) html: Option<Vec<rdprobe::report::probe::ProbeResult>>,
}

impl ResultSink {
    pub(crate) fn write(&mut self, r: &rdprobe::report::probe::ProbeResult) -> std::io::Result<()> {
        use rdprobe::report::json;
        if self.closed {
            return Ok(());
        }
        self.fleet.add(r);
        if let Some(all) = &mut self.html {
            all.push(r.clone());
        }
        let res = match self.format {
            // Collected (in `html`) and written once at the end.
            OutFormat::Nagios => Ok(()),
            OutFormat::Text => {
                let mut s = String::new();
                rdprobe::report::text::probe(r, &mut s);
                if self.show_clients {
                    rdprobe::report::text::clients(r, &mut s);
                }
                if self.paint {
                    s = rdprobe::report::text::paint(&s);
                }
                writeln!(self.out, "{s}")
            }
            OutFormat::Jsonl => {
                json::write_envelope(&mut self.out, json::LineKind::Target, None, r)
                    .and_then(|()| writeln!(self.out))
                    .and_then(|()| self.out.flush())
            }
            OutFormat::Json => {
                let sep = if self.count == 0 { "[\n" } else { ",\n" };
                self.out
                    .write_all(sep.as_bytes())
                    .and_then(|()| json::write_pretty(&mut self.out, r))
            }
        };
        self.count += 1;
        self.check(res)
    }

    pub(crate) fn finish(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let several = self.count > 1;
        let res = match self.format {
            OutFormat::Json if self.count == 0 => self.out.write_all(b"[]\n"),
            OutFormat::Json => self.out.write_all(b"\n]\n"),
            OutFormat::Text if several => {
                let mut s = String::new();
                rdprobe::report::text::fleet(&self.fleet, &mut s);
                self.out.write_all(s.as_bytes())
            }
            OutFormat::Jsonl if several => self.line(
                rdprobe::report::json::LineKind::Summary,
                &self.fleet.clone(),
            ),
            _ => Ok(()),
        }
        .and_then(|()| self.out.flush());
        self.check(res)
    }

    /// One JSON Lines envelope without a file.
    pub(crate) fn line<T: serde::Serialize>(
        &mut self,
        kind: rdprobe::report::json::LineKind,
        data: &T,
    ) -> std::io::Result<()> {
        use rdprobe::report::json;
        json::write_envelope(&mut self.out, kind, None, data)
            .and_then(|()| writeln!(self.out))
            .and_then(|()| self.out.flush())
    }

    /// Text as it is, or one JSON Lines envelope.
    pub(crate) fn emit<T: serde::Serialize>(
        &mut self,
        kind: rdprobe::report::json::LineKind,
        data: &T,
        text: impl FnOnce(&T, &mut String),
    ) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let res = if self.format == OutFormat::Text {
            let mut s = String::new();
            text(data, &mut s);
            if self.paint {
                s = rdprobe::report::text::paint(&s);
            }
            self.out
                .write_all(s.as_bytes())
                .and_then(|()| self.out.flush())
        } else {
            self.line(kind, data)
        };
        self.check(res)
    }

    pub(crate) fn check(&mut self, res: std::io::Result<()>) -> std::io::Result<()> {
        match res {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}
