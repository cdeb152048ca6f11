//! Work split over the machine's cores, for the few jobs that are big and divisible: reading
//! a big zone's records, making its answers, signing its RRsets.

/// How many items a part of `len` should hold: one part per core, but no part under `min`
/// items (a small job is not worth a thread).
pub fn part_len(len: usize, min: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    len.div_ceil(cores).max(min).max(1)
}

/// `work` done on each of `parts` side by side (on this thread when there is one part); the
/// results in the order of `parts`.
pub fn each<T: Send, R: Send>(parts: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    if parts.len() <= 1 {
        return parts.into_iter().map(work).collect();
    }
    std::thread::scope(|scope| {
        let work = &work;
        let workers: Vec<_> = parts.into_iter().map(|part| scope.spawn(move || work(part))).collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}
