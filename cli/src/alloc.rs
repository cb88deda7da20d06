//! The allocator: mimalloc, configured to keep freed memory for reuse.
//!
//! Query operators allocate and free large buffers (hash tables, build sides, decoded
//! Parquet pages) at a high rate. By default mimalloc returns ("purges") freed memory to the
//! operating system a second after it becomes unused, so the next large allocation faults fresh
//! pages in, and the kernel zeroes every one of them: on TPC-H SF 1 that was about a fifth
//! of the CPU time (system time 4.5 s of 19.8 s; 2.3 s of 17.1 s without purging). The CLI
//! is a short-lived process, so it disables purging: freed memory stays mapped and is
//! reused, and everything is returned when the process exits. Peak RSS grows somewhat
//! (712 MB to 852 MB over the 22 queries at SF 1).
//!
//! A `MIMALLOC_PURGE_DELAY` environment variable still wins: the setting is only changed
//! while it has mimalloc's default value.

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_t` of the bundled
/// mimalloc 3 header).
const MI_OPTION_PURGE_DELAY: i32 = 15;
/// The default of that option in the bundled mimalloc, in milliseconds.
const DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1000;

unsafe extern "C" {
    fn mi_option_get(option: i32) -> std::ffi::c_long;
    fn mi_option_set(option: i32, value: std::ffi::c_long);
}

/// Disables purging of freed memory unless the user configured it; see the module docs.
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: both functions only read or write mimalloc's option table; any option index
    // within the enum is valid, and the value is one the option documents (-1: never purge).
    unsafe {
        if mi_option_get(MI_OPTION_PURGE_DELAY) == DEFAULT_PURGE_DELAY_MS {
            mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_where_we_expect_it() {
        // If a mimalloc upgrade moves the option, this index would name another option
        // and this test fails: its default is 1000 ms.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads mimalloc's option table.
        let before = unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert!(
            before == DEFAULT_PURGE_DELAY_MS || before == -1,
            "option {MI_OPTION_PURGE_DELAY} is {before}"
        );
        keep_freed_memory();
        // SAFETY: as above.
        assert_eq!(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }, -1);
    }
}
