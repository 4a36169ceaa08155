//! Two independent stages run so that neither waits for the other (issue
//! #5: the anomaly scorer and SAM's image encoder both need only the
//! image; REFERENCE.md, "The pipeline (inference)").
//!
//! Natively each stage gets its own thread: the CPU backend computes
//! eagerly, so the two share the cores instead of taking turns, and a GPU
//! backend receives both stages' work while each thread waits only for
//! its own result. WebAssembly has no threads here: the stages run one
//! after the other on the host, which only enqueues GPU work, so the
//! device still runs them back to back as long as neither stage reads
//! its result before the other is enqueued.

/// `first()` and `second()`, run side by side; a panic in either is
/// passed on once both have finished.
#[cfg(not(target_arch = "wasm32"))]
pub fn side_by_side<A: Send, B: Send>(
    first: impl FnOnce() -> A + Send,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|scope| {
        let first = scope.spawn(first);
        let second = second();
        match first.join() {
            Ok(first) => (first, second),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// `first()` then `second()`: in the browser the GPU overlaps them.
#[cfg(target_arch = "wasm32")]
pub fn side_by_side<A, B>(first: impl FnOnce() -> A, second: impl FnOnce() -> B) -> (A, B) {
    (first(), second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// Each stage waits for a word from the other: run one after the
    /// other, the first would give up after its timeout.
    #[test]
    fn neither_stage_waits_for_the_other() {
        let (to_second, from_first) = channel();
        let (to_first, from_second) = channel();
        let patience = Duration::from_secs(20);
        let (first, second) = side_by_side(
            move || {
                to_second.send("first started").unwrap();
                from_second.recv_timeout(patience).is_ok()
            },
            move || {
                to_first.send("second started").unwrap();
                from_first.recv_timeout(patience).is_ok()
            },
        );
        assert!(
            first && second,
            "first heard: {first}, second heard: {second}"
        );
    }

    #[test]
    fn results_come_back_in_order() {
        assert_eq!(side_by_side(|| 1, || "two"), (1, "two"));
    }

    #[test]
    #[should_panic(expected = "the first stage failed")]
    fn a_panic_is_passed_on() {
        side_by_side(|| panic!("the first stage failed"), || 2);
    }
}
