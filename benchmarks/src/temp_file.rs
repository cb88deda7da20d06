//! [`TempFile`]: a file written under a temporary name next to its final path and renamed
//! into place when complete, so that a failed or interrupted run never leaves a partial file.

use std::fs::File;
use std::path::{Path, PathBuf};

/// A temporary file next to its final path; removed on drop unless persisted.
pub(crate) struct TempFile {
    temp: PathBuf,
    done: bool,
}

impl TempFile {
    /// The temporary name for `path`: `.<name>.tmp-<pid>` in the same directory.
    pub(crate) fn new(path: &Path) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        TempFile { temp, done: false }
    }

    /// The temporary path.
    pub(crate) fn path(&self) -> &Path {
        &self.temp
    }

    /// Flushes `file` (opened at [`TempFile::path`]) to disk and renames it to `path`.
    ///
    /// # Errors
    /// The failing path (the temporary one for the flush, `path` for the rename) and the
    /// cause; the temporary file is then removed.
    pub(crate) fn persist(mut self, file: File, path: &Path) -> Result<(), (PathBuf, std::io::Error)> {
        file.sync_all().map_err(|e| (self.temp.clone(), e))?;
        drop(file);
        std::fs::rename(&self.temp, path).map_err(|e| (path.to_path_buf(), e))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            // Best effort: the temporary file may not exist if creating it failed.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
