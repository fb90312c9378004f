//! Pins the promise that the rule-pack runtime evaluates an event no stateful rule names
//! without allocating (as the event rules do: `trailwarden-detect/tests/no_alloc.rs`).
//!
//! A counting global allocator (this test binary only) counts allocations made on the current
//! thread while a flag is set. `unsafe` is needed to implement `GlobalAlloc`; it only
//! delegates to the system allocator.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use trailwarden_detect::{IpLists, Overrides, Policies};
use trailwarden_pack::{PackEngine, PackOptions};
use trailwarden_parse::Event;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
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

fn event(source: &str, name: &str, t: i64) -> Event {
    Event {
        event_time: t,
        event_source: source.into(),
        event_name: name.into(),
        event_id: Some("e".into()),
        request_parameters: Some(r#"{"bucketName":"b"}"#.into()),
        ..Event::default()
    }
}

#[test]
fn evaluating_uninteresting_events_does_not_allocate() {
    // With approved regions, so rules on every event source (activity-in-unapproved-region)
    // look at each event too.
    let overrides = Overrides {
        approved_regions: Some(vec!["us-east-1".into()]),
        ..Overrides::default()
    };
    let mut pack = PackEngine::new(
        &Policies::builtin().unwrap(),
        &IpLists::new(),
        &overrides,
        PackOptions::live(),
    )
    .unwrap();
    assert!(!pack.is_empty());
    // A write in an approved region: a candidate of every-source rules, but no match.
    let mut approved = event("ec2.amazonaws.com", "CreateVpc", 5);
    approved.read_only = Some(false);
    approved.aws_region = Some("us-east-1".into());
    let misses = [
        event("s3.amazonaws.com", "GetObject", 1),
        event("ec2.amazonaws.com", "DescribeInstances", 2),
        event("kms.amazonaws.com", "Decrypt", 3),
        event("", "", 4),
        approved,
    ]
    .map(Arc::new);
    // Warm up: the step buffer's first growth, and the engine's memo of each (event source,
    // event name) pair's candidates, are one-offs.
    for e in &misses {
        pack.evaluate(e, "o");
    }
    for e in &misses {
        let n = allocations(|| pack.evaluate(e, "o"));
        assert_eq!(n, 0, "{} {}", e.event_source, e.event_name);
    }
    let mut out = Vec::with_capacity(4);
    let n = allocations(|| pack.advance(&mut out));
    assert_eq!(n, 0, "advancing an empty buffer");
    // Sanity: the counter works (a matching step allocates its observation).
    let mut hit = event("ec2.amazonaws.com", "StopInstances", 6);
    hit.request_parameters = Some(r#"{"instancesSet":{"items":[{"instanceId":"i-1"}]}}"#.into());
    let hit = Arc::new(hit);
    let n = allocations(|| pack.evaluate(&hit, "o"));
    assert!(n > 0);
    assert_eq!(pack.stats().observations, 1);
}
