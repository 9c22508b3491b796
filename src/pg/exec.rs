//! Running a PostgreSQL tool to completion and turning a failure into an error that carries
//! what the tool said.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, bail};

/// Runs `cmd` (optionally feeding `stdin`), failing with its output when it exits non-zero.
/// `what` completes "failed to …".
pub(crate) fn run(mut cmd: Command, stdin: Option<&str>, what: &str) -> anyhow::Result<Output> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("failed to {what}: cannot start {program}"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Dropping the pipe afterwards closes it, which ends the single-user session.
        pipe.write_all(input.as_bytes())
            .with_context(|| format!("failed to {what}: cannot write to {program}"))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("failed to {what}: lost {program}"))?;
    if !out.status.success() {
        bail!(
            "failed to {what}: {program} exited with {}: {}",
            out.status,
            said(&out)
        );
    }
    Ok(out)
}

/// A tool's stderr and stdout, trimmed, for error messages.
pub(crate) fn said(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    [stderr.trim(), stdout.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}
