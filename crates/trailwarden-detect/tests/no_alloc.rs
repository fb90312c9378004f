//! Pins the promise that evaluating an event no policy is interested in allocates nothing.
//!
//! A counting global allocator (this test binary only) counts allocations made on the current
//! thread while a flag is set. `unsafe` is needed to implement `GlobalAlloc`; it only
//! delegates to the system allocator.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use trailwarden_detect::{Engine, EventRef, IpLists, Overrides, Policies};
use trailwarden_parse::Event;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the thread-locals may be gone while a thread shuts down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    COUNT.with(Cell::get)
}

fn event(source: &str, name: &str) -> Event {
    Event {
        event_source: source.into(),
        event_name: name.into(),
        event_id: Some("e".into()),
        request_parameters: Some(r#"{"bucketName":"b"}"#.into()),
        ..Event::default()
    }
}

#[test]
fn evaluating_uninteresting_events_does_not_allocate() {
    let mut lists = IpLists::new();
    lists.add_text("risky", "t", "203.0.113.0/24").unwrap();
    let engine = Engine::new(&Policies::builtin().unwrap(), &lists, &Overrides::default()).unwrap();
    let misses = [
        event("s3.amazonaws.com", "GetObject"),
        event("ec2.amazonaws.com", "DescribeInstances"),
        event("kms.amazonaws.com", "Decrypt"),
        event("", ""),
    ];
    let mut out = Vec::with_capacity(16);
    for e in &misses {
        let n = allocations(|| engine.evaluate(e, EventRef { source_object: "o" }, &mut out));
        assert_eq!(n, 0, "{} {}", e.event_source, e.event_name);
    }
    assert!(out.is_empty());
    // The stateful rules' steps: the same promise.
    let mut hits = Vec::with_capacity(16);
    for e in &misses {
        let n =
            allocations(|| engine.evaluate_stateful(e, EventRef { source_object: "o" }, &mut hits));
        assert_eq!(n, 0, "stateful {} {}", e.event_source, e.event_name);
    }
    assert!(hits.is_empty());
    // A candidate that fails the cheap outcome check does not allocate either.
    let mut failed = event("iam.amazonaws.com", "AttachUserPolicy");
    failed.error_code = Some("AccessDenied".into());
    let n = allocations(|| engine.evaluate(&failed, EventRef { source_object: "o" }, &mut out));
    assert_eq!(n, 0);
    // Sanity: the counter works (a firing policy allocates its alert).
    let hit = event("iam.amazonaws.com", "AttachUserPolicy");
    let n = allocations(|| engine.evaluate(&hit, EventRef { source_object: "o" }, &mut out));
    assert!(n > 0);
    assert_eq!(out.len(), 1);
}
