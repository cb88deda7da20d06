//! The interactive SQL shell: statements may span lines and run when a line ends with `;`;
//! `\q` quits, `\dt` lists tables, `\d NAME` describes one, `\?` shows help. History is kept
//! in `~/.rill_history` when there is a home directory. Errors are printed and the session
//! goes on.

use std::path::PathBuf;

use rill_core::ExecutionEnvironment;
use rustyline::error::ReadlineError;

use crate::engine;
use crate::error::CliError;
use crate::output::{self, OutputOptions};
use crate::sql;

const PROMPT: &str = "rill> ";
const CONTINUATION: &str = "   -> ";

const HELP: &str = "\
Enter SQL statements ending with ';' (they may span several lines).
  \\dt         list tables
  \\d NAME     describe a table
  \\q          quit (also Ctrl-D)
  \\?          this help
Ctrl-C clears the statement being typed.";

/// What a line of input means.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    /// A backslash command.
    Command(String),
    /// The statement text is complete (ends with `;`): run it.
    Complete(String),
    /// More lines are needed.
    Incomplete,
    /// Nothing (a blank line with no pending text).
    Empty,
}

/// Adds `line` to the pending statement text `buffer` and says what to do.
fn accept_line(buffer: &mut String, line: &str) -> Input {
    let trimmed = line.trim();
    if buffer.trim().is_empty() && trimmed.starts_with('\\') {
        buffer.clear();
        return Input::Command(trimmed.to_string());
    }
    if !buffer.is_empty() {
        buffer.push('\n');
    }
    buffer.push_str(line);
    if buffer.trim().is_empty() {
        buffer.clear();
        Input::Empty
    } else if trimmed.ends_with(';') {
        Input::Complete(std::mem::take(buffer))
    } else {
        Input::Incomplete
    }
}

fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".rill_history"))
}

/// Runs the REPL until `\q` or end of input.
pub fn run(env: &ExecutionEnvironment, options: &OutputOptions) -> Result<(), CliError> {
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on the first run.
        let _ = editor.load_history(path);
    }
    output::print_stdout("Rill SQL shell. End statements with ';'. Type \\? for help, \\q to quit.")?;
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { PROMPT } else { CONTINUATION };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        match accept_line(&mut buffer, &line) {
            Input::Empty | Input::Incomplete => {}
            Input::Command(command) => {
                let _ = editor.add_history_entry(command.as_str());
                if !run_command(env, &command) {
                    break;
                }
            }
            Input::Complete(text) => {
                let _ = editor.add_history_entry(text.as_str());
                if let Err(e) = sql::run_script(env, &text, options) {
                    eprintln!("error: {}", e.one_line());
                }
            }
        }
    }
    if let Some(path) = &history {
        // Failing to save history must not fail the session.
        let _ = editor.save_history(path);
    }
    Ok(())
}

/// Runs a backslash command; returns false to quit.
fn run_command(env: &ExecutionEnvironment, command: &str) -> bool {
    let mut words = command.split_whitespace();
    let result = match (words.next().unwrap_or_default(), words.next()) {
        ("\\q" | "\\quit", _) => return false,
        ("\\?" | "\\h" | "\\help", _) => output::print_stdout(HELP),
        ("\\dt", _) | ("\\d", None) => list_tables(env),
        ("\\d", Some(name)) => describe(env, name),
        (other, _) => Err(CliError::usage(format!(
            "unknown command {other}; \\? lists the commands"
        ))),
    };
    if let Err(e) = result {
        eprintln!("error: {}", e.one_line());
    }
    true
}

fn list_tables(env: &ExecutionEnvironment) -> Result<(), CliError> {
    let names = engine::table_names(env);
    if names.is_empty() {
        return output::print_stdout("No tables. Register files with --table NAME=PATH.");
    }
    output::print_stdout(&names.join("\n"))
}

fn describe(env: &ExecutionEnvironment, name: &str) -> Result<(), CliError> {
    let schema = engine::table_schema(env, name)?;
    let mut text = String::new();
    for field in schema.fields() {
        let null = if field.is_nullable() { "" } else { " NOT NULL" };
        text.push_str(&format!("{} {}{}\n", field.name(), field.data_type(), null));
    }
    output::print_stdout(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_run_when_a_line_ends_with_a_semicolon() {
        let mut buffer = String::new();
        assert_eq!(accept_line(&mut buffer, "SELECT a"), Input::Incomplete);
        assert_eq!(
            accept_line(&mut buffer, "FROM t;"),
            Input::Complete("SELECT a\nFROM t;".into())
        );
        assert!(buffer.is_empty());
        assert_eq!(
            accept_line(&mut buffer, "SELECT 1; SELECT 2;  "),
            Input::Complete("SELECT 1; SELECT 2;  ".into())
        );
    }

    #[test]
    fn commands_and_blank_lines() {
        let mut buffer = String::new();
        assert_eq!(accept_line(&mut buffer, "  "), Input::Empty);
        assert!(buffer.is_empty());
        assert_eq!(accept_line(&mut buffer, " \\q "), Input::Command("\\q".into()));
        assert_eq!(
            accept_line(&mut buffer, "\\d lineitem"),
            Input::Command("\\d lineitem".into())
        );
        // A backslash inside a pending statement is statement text.
        assert_eq!(accept_line(&mut buffer, "SELECT"), Input::Incomplete);
        assert_eq!(
            accept_line(&mut buffer, "'\\q';"),
            Input::Complete("SELECT\n'\\q';".into())
        );
        // A blank line inside a statement keeps it pending.
        assert_eq!(accept_line(&mut buffer, "SELECT"), Input::Incomplete);
        assert_eq!(accept_line(&mut buffer, ""), Input::Incomplete);
        assert_eq!(accept_line(&mut buffer, "1;"), Input::Complete("SELECT\n\n1;".into()));
    }
}
