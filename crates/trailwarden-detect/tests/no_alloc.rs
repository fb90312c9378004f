//! Pins the promise that evaluating an event no policy is interested in allocates nothing (once
//! the engine has seen its event source and name).
//!
//! A counting global allocator (this test binary only) counts allocations made on the current
//! thread while a flag is set. `unsafe` is needed to implement `GlobalAlloc`; it only
//! delegates to the system allocator.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use trailwarden_detect::{Engine, EventRef, IpLists, Overrides, Policies, Policy};
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

/// Allocations of the second of two runs of `f`: the first fills the engine's memo of the
/// event's (source, name) candidates, which a trail repeats for almost every event.
fn allocations_when_warm(mut f: impl FnMut()) -> usize {
    f();
    allocations(f)
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
    // With approved regions, so the rules on every event source run too.
    let overrides = Overrides {
        approved_regions: Some(vec!["us-east-1".into()]),
        ..Overrides::default()
    };
    let engine = Engine::new(&Policies::builtin().unwrap(), &lists, &overrides).unwrap();
    assert!(
        !engine
            .disabled()
            .iter()
            .any(|d| d.reason.contains("region")),
        "{:?}",
        engine.disabled()
    );
    let misses = [
        event("s3.amazonaws.com", "GetObject"),
        event("ec2.amazonaws.com", "DescribeInstances"),
        event("kms.amazonaws.com", "Decrypt"),
        event("", ""),
    ];
    let mut out = Vec::with_capacity(16);
    for e in &misses {
        let n =
            allocations_when_warm(|| engine.evaluate(e, EventRef { source_object: "o" }, &mut out));
        assert_eq!(n, 0, "{} {}", e.event_source, e.event_name);
    }
    assert!(out.is_empty());
    // The stateful rules' steps: the same promise.
    let mut hits = Vec::with_capacity(16);
    for e in &misses {
        let n = allocations_when_warm(|| engine.evaluate_stateful(e, &mut hits));
        assert_eq!(n, 0, "stateful {} {}", e.event_source, e.event_name);
    }
    assert!(hits.is_empty());
    // A candidate that fails the cheap outcome check does not allocate either.
    let mut failed = event("iam.amazonaws.com", "AttachUserPolicy");
    failed.error_code = Some("AccessDenied".into());
    let n = allocations_when_warm(|| {
        engine.evaluate(&failed, EventRef { source_object: "o" }, &mut out)
    });
    assert_eq!(n, 0);
    // Sanity: the counter works (a firing policy allocates its alert).
    let hit = event("iam.amazonaws.com", "AttachUserPolicy");
    let n = allocations(|| engine.evaluate(&hit, EventRef { source_object: "o" }, &mut out));
    assert!(n > 0);
    assert_eq!(out.len(), 1);
}

/// Every event is a candidate of this rule; typed-field comparisons, the approved-region test
/// and the `invoked_by` exclusion decide without allocating.
const EVERYWHERE: &str = r#"
id: everywhere
title: t
description: d
severity: low
mitre: [T1535]
match:
  event_source: "*"
  where:
    - field: readOnly
      equals: "false"
    - field: awsRegion
      approved_region: false
    - field: userIdentity.userName
      not_equals_field: userIdentity.sessionContext.sessionIssuer.userName
    - field: account
      equals_field: userIdentity.accountId
exclude:
  - invoked_by: "*"
"#;

fn write_in(region: &str, user: &str, issuer: &str) -> Event {
    let mut e = event("ec2.amazonaws.com", "CreateVpc");
    e.read_only = Some(false);
    e.aws_region = Some(region.into());
    e.recipient_account_id = Some("111122223333".into());
    e.identity.account_id = Some("111122223333".into());
    e.identity.user_name = Some(user.into());
    e.identity.session_issuer_user_name = Some(issuer.into());
    e
}

#[test]
fn new_conditions_decide_without_allocating() {
    let mut ps = Policies::new();
    ps.add(Policy::from_yaml("everywhere.yaml", EVERYWHERE).unwrap())
        .unwrap();
    let overrides = Overrides {
        approved_regions: Some(vec!["us-east-1".into(), "eu-west-1".into()]),
        ..Overrides::default()
    };
    let engine = Engine::new(&ps, &IpLists::new(), &overrides).unwrap();
    let mut by_service = write_in("ap-east-1", "alice", "ops");
    by_service.identity.invoked_by = Some("cloudformation.amazonaws.com".into());
    let mut foreign = write_in("ap-east-1", "alice", "ops");
    foreign.identity.account_id = Some("444455556666".into());
    let quiet = [
        write_in("us-east-1", "alice", "ops"),   // approved region
        write_in("ap-east-1", "alice", "alice"), // equal fields
        foreign,                                 // another account's caller
        by_service,                              // excluded: invoked by a service
        event("s3.amazonaws.com", "GetObject"),  // no readOnly
    ];
    let mut out = Vec::with_capacity(16);
    for e in &quiet {
        let n =
            allocations_when_warm(|| engine.evaluate(e, EventRef { source_object: "o" }, &mut out));
        assert_eq!(n, 0, "{:?} {:?}", e.aws_region, e.identity.user_name);
    }
    assert!(out.is_empty());
    // Sanity: the same rule fires (and allocates its alert) when everything holds.
    let hit = write_in("ap-east-1", "alice", "ops");
    let n = allocations(|| engine.evaluate(&hit, EventRef { source_object: "o" }, &mut out));
    assert!(n > 0);
    assert_eq!(out.len(), 1);
}
