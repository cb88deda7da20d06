//! Resolves a table location (a file, a directory or a glob) into the sorted list of files
//! that make up the table, skipping hidden and temporary files.

use std::path::{Path, PathBuf};

use rill_core::FileFormat;

use crate::error::{ExecError, Result};

/// Whether a file name marks a hidden or temporary file (`.x`, `_x`), which tables skip.
pub fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
}

fn has_extension(path: &Path, format: FileFormat) -> bool {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return false;
    };
    FileFormat::parse(ext) == Some(format)
}

fn walk(dir: &Path, format: FileFormat, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let path = entry.path();
        if is_hidden(&path) {
            continue;
        }
        let file_type = entry.file_type().map_err(|e| io_err(&path, e))?;
        if file_type.is_dir() || (file_type.is_symlink() && path.is_dir()) {
            walk(&path, format, out)?;
        } else if has_extension(&path, format) {
            out.push(path);
        }
    }
    Ok(())
}

fn io_err(path: &Path, source: std::io::Error) -> ExecError {
    ExecError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The files of a table at `location`: the file itself, every file with `format`'s extension
/// under a directory (recursively), or every file a glob matches; sorted by path.
///
/// # Errors
/// [`ExecError::FileNotFound`] when nothing matches; [`ExecError::Io`] when a directory cannot
/// be read.
pub fn list_files(location: &str, format: FileFormat) -> Result<Vec<PathBuf>> {
    let path = Path::new(location);
    let mut files = Vec::new();
    if path.is_dir() {
        walk(path, format, &mut files)?;
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else if location.contains(['*', '?', '[']) {
        let paths = glob::glob(location).map_err(|e| ExecError::InvalidValue {
            context: format!("glob '{location}'"),
            message: e.to_string(),
        })?;
        for p in paths {
            let p = p.map_err(|e| ExecError::Io {
                path: e.path().display().to_string(),
                source: e.into(),
            })?;
            if is_hidden(&p) {
                continue;
            }
            if p.is_dir() {
                walk(&p, format, &mut files)?;
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    files.dedup();
    if files.is_empty() {
        return Err(ExecError::FileNotFound {
            path: location.to_string(),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn lists_file_dir_and_glob() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        for name in ["b.csv", "a.csv", "sub/c.csv", ".hidden.csv", "_tmp.csv", "x.json"] {
            std::fs::write(d.join(name), "a\n1\n").unwrap();
        }
        let all = list_files(d.to_str().unwrap(), FileFormat::Csv).unwrap();
        let names: Vec<String> = all
            .iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(names, vec!["a.csv", "b.csv", "sub/c.csv"]);

        let one = list_files(d.join("b.csv").to_str().unwrap(), FileFormat::Csv).unwrap();
        assert_eq!(one, vec![d.join("b.csv")]);

        let g = list_files(&format!("{}/*.csv", d.display()), FileFormat::Csv).unwrap();
        assert_eq!(g, vec![d.join("a.csv"), d.join("b.csv")]);

        let json = list_files(d.to_str().unwrap(), FileFormat::Json).unwrap();
        assert_eq!(json, vec![d.join("x.json")]);
    }

    #[test]
    fn missing_is_file_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.parquet");
        let err = list_files(missing.to_str().unwrap(), FileFormat::Parquet).unwrap_err();
        assert!(matches!(err, ExecError::FileNotFound { .. }), "{err}");
        let err = list_files(&format!("{}/*.parquet", dir.path().display()), FileFormat::Parquet).unwrap_err();
        assert!(matches!(err, ExecError::FileNotFound { .. }), "{err}");
        // an empty directory
        let err = list_files(dir.path().to_str().unwrap(), FileFormat::Parquet).unwrap_err();
        assert!(matches!(err, ExecError::FileNotFound { .. }), "{err}");
    }
}
