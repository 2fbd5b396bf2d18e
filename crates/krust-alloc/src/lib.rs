//! Tuning of mimalloc, krust's global allocator.
//!
//! mimalloc keeps memory it freed for a second by default before returning it to the OS, and
//! under a burst of writes (every request allocates and frees many JSON values) that
//! retained memory dominated the server's resident size: 260 MB instead of 163 MB holding
//! 12,000 pods in `krust bench api` (BENCHMARKS.md). Returning it at once costs no
//! measurable throughput there. The option can still be overridden with the
//! `MIMALLOC_PURGE_DELAY` environment variable, which mimalloc reads at start-up, because
//! this is only applied when that variable is not set.

/// mimalloc's `mi_option_purge_delay` (the position in its `mi_option_e` enum, v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc return freed memory to the OS at once, unless the environment says
/// otherwise. Call early in `main`.
pub fn return_freed_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table (an atomic
    // write); any option index and value are accepted, and it is safe to call at any time
    // from any thread.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// The current purge delay in milliseconds.
pub fn purge_delay_ms() -> i64 {
    // SAFETY: mi_option_get only reads mimalloc's option table.
    #[allow(unsafe_code)]
    let value = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option index is the purge delay: it holds mimalloc v3's default of 1,000 ms,
    /// and setting it takes effect.
    #[test]
    fn purge_delay_is_the_option_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        assert_eq!(purge_delay_ms(), 1000);
        return_freed_memory_promptly();
        assert_eq!(purge_delay_ms(), 0);
    }
}
