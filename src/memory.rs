//! Giving freed memory back to the system. glibc's allocator keeps what a program frees on
//! its arenas' free lists and returns pages only from the top of a heap, so after a zone is
//! loaded the memory its parse used (for 100,000 names, a third of the process) stays
//! resident next to the answers built from it, and every reload of a big zone leaves its own
//! peak behind. `malloc_trim(0)` gives those pages back; it is called once a new
//! configuration is installed, on a blocking thread, never on the query path or the writer.

/// Asks the allocator to return its free pages; whether it returned any. Elsewhere than
/// glibc on Linux (musl, other systems, whose allocators return memory themselves) it does
/// nothing.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_freed() -> bool {
    // SAFETY: malloc_trim takes no pointers and touches only glibc's own free lists, which it
    // locks arena by arena while other threads keep allocating.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() -> bool {
    false
}
