//! The common path allocates nothing: evaluating events that do not match (including events
//! that pass the index and have their raw JSON members tokenized) makes no heap allocation
//! once the engine's buffers have grown.
#![allow(unsafe_code)] // a counting global allocator, test only
#![allow(clippy::unwrap_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use serde_json::json;

struct Counting;

static COUNT: AtomicUsize = AtomicUsize::new(0);
static ON: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const RULES: &str = r#"
title: versioning
id: r1
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventSource: s3.amazonaws.com
        eventName: PutBucketVersioning
        requestParameters|contains: 'Suspended'
    condition: sel
---
title: deep path
id: r2
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        eventName: RegisterTaskDefinition
        requestParameters.containerDefinitions.command|contains: '$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'
    condition: sel
---
title: unindexed
id: r3
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        userIdentity.type: Root
    filter:
        eventType: AwsServiceEvent
    condition: sel and not filter
---
title: regex
id: r4
logsource: {product: aws, service: cloudtrail}
detection:
    sel:
        userIdentity.arn|re: '.+:assumed-role/aws:.+'
    condition: sel
"#;

#[test]
fn evaluating_non_matching_events_does_not_allocate() {
    let mut engine = engine(RULES);
    let mut events = Vec::new();
    for i in 0..200 {
        let mut r = record(
            "s3.amazonaws.com",
            "PutBucketVersioning",
            T0 + i,
            "alice",
            &format!("e{i}"),
        );
        r["requestParameters"] = json!({"bucketName": "b", "VersioningConfiguration": {"Status": "Enabled"}, "list": [1, 2, {"x": "y"}]});
        events.push(event(&r));
        let mut r = record(
            "ecs.amazonaws.com",
            "RegisterTaskDefinition",
            T0 + i,
            "alice",
            &format!("f{i}"),
        );
        r["requestParameters"] = json!({"family": "web", "containerDefinitions": [{"name": "w", "command": ["nginx", "-g", "daemon off;"]}]});
        events.push(event(&r));
        events.push(event(&record(
            "ec2.amazonaws.com",
            "DescribeInstances",
            T0 + i,
            "bob",
            &format!("g{i}"),
        )));
    }
    let mut out = Vec::with_capacity(16);
    // warm-up: buffers grow
    for e in &events {
        engine.evaluate(e, "obj", &mut out);
    }
    assert!(out.is_empty());
    COUNT.store(0, Ordering::SeqCst);
    ON.store(true, Ordering::SeqCst);
    for e in &events {
        engine.evaluate(e, "obj", &mut out);
    }
    ON.store(false, Ordering::SeqCst);
    let n = COUNT.load(Ordering::SeqCst);
    assert!(out.is_empty());
    assert_eq!(n, 0, "allocations on the no-match path");
    let s = engine.stats();
    assert!(s.raw_parses >= 800, "{s:?}");
}
