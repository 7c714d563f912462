//! The manifest: one JSON line per event the broker took, written off the async threads.
//!
//! Line format: `{"id","source","kind","area","ts","topic","values"}` (see
//! [`SimEvent::manifest_line`](crate::SimEvent::manifest_line)).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::error::SimError;

/// Buffered JSON-lines writer fed through a channel and drained by its own thread.
#[derive(Debug)]
pub struct ManifestWriter {
    path: PathBuf,
    lines: mpsc::Sender<String>,
    thread: JoinHandle<std::io::Result<u64>>,
}

impl ManifestWriter {
    /// Creates (or truncates) the file at once, so a bad path fails before anything is sent.
    pub fn create(path: &Path) -> Result<Self, SimError> {
        let fail = |source| SimError::Manifest {
            path: path.to_path_buf(),
            source,
        };
        let file = File::create(path).map_err(fail)?;
        let (lines, receiver) = mpsc::channel::<String>();
        let thread = std::thread::Builder::new()
            .name("ioc-sim-manifest".into())
            .spawn(move || {
                let mut out = BufWriter::with_capacity(1 << 20, file);
                let mut written = 0_u64;
                for line in receiver {
                    out.write_all(line.as_bytes())?;
                    out.write_all(b"\n")?;
                    written += 1;
                }
                out.flush()?;
                out.into_inner()
                    .map_err(|error| error.into_error())?
                    .sync_data()?;
                Ok(written)
            })
            .map_err(fail)?;
        Ok(Self {
            path: path.to_path_buf(),
            lines,
            thread,
        })
    }

    /// Queues one line (without its newline); a write error surfaces in [`ManifestWriter::finish`].
    pub fn write_line(&self, line: String) {
        // A send fails only when the thread stopped on an I/O error, which `finish` reports.
        let _ = self.lines.send(line);
    }

    /// Writes what is queued, flushes and syncs the file; returns the number of lines written.
    pub fn finish(self) -> Result<u64, SimError> {
        let Self {
            path,
            lines,
            thread,
        } = self;
        drop(lines);
        match thread.join() {
            Ok(result) => result.map_err(|source| SimError::Manifest { path, source }),
            Err(_) => Err(SimError::Manifest {
                path,
                source: std::io::Error::other("manifest writer thread panicked"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_line_in_order_and_reports_bad_paths() {
        let dir = std::env::temp_dir().join(format!("ioc-sim-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("m.jsonl");
        let writer = ManifestWriter::create(&path).expect("create");
        for n in 0..1000 {
            writer.write_line(format!("{{\"n\":{n}}}"));
        }
        assert_eq!(writer.finish().expect("finish"), 1000);
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999], "{\"n\":999}");
        std::fs::remove_dir_all(&dir).expect("cleanup");

        let error = ManifestWriter::create(Path::new("/nonexistent-dir/x/m.jsonl")).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent-dir/x/m.jsonl"),
            "{error}"
        );
    }
}
