//! [`PackedEvent`]: an [`Event`] kept in one buffer, for components that hold events long
//! after their batch is gone.
//!
//! An [`Event`] owns some forty separate strings. Kept for hours of event time (the rule
//! pack's reorder buffer and windows), each of them is a block the allocator of the decoding
//! thread must take back from another thread much later — measured on a 1,000,000-event
//! replay, that cross-thread freeing cost a third of the decoding threads' time. A packed
//! copy is one text buffer plus fixed-size fields, made and freed by the thread that keeps it;
//! [`PackedEvent::event`] rebuilds the [`Event`] (only needed when a window fires).

use std::net::IpAddr;

use crate::model::{Event, Identity, IdentityType, MicrosUtc};

/// Text slots: the event's 25 text fields, then the identity's 15.
const SLOTS: usize = 40;

/// A compact, immutable copy of an [`Event`] (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct PackedEvent {
    /// Every present text field, concatenated in slot order.
    text: Box<str>,
    /// End of each slot's text in `text` (a slot starts where the previous one ends).
    ends: [u32; SLOTS],
    /// Bit `i` set: slot `i` is present (`Some`).
    present: u64,
    event_time: MicrosUtc,
    record_index: u32,
    source_ip: Option<IpAddr>,
    read_only: Option<bool>,
    management_event: Option<bool>,
    session_credential_from_console: Option<bool>,
    mfa_authenticated: Option<bool>,
    session_creation_time: Option<MicrosUtc>,
    /// `userIdentity.type` (its text is allocated only for a type this version does not know).
    kind: IdentityType,
}

impl PackedEvent {
    /// Packs `e` (every field: [`PackedEvent::event`] gives back an equal event).
    pub fn new(e: &Event) -> PackedEvent {
        // Destructured without `..`: a field added to the model must be added here.
        let Event {
            event_time,
            event_version,
            event_source,
            event_name,
            aws_region,
            source_ip_address,
            source_ip,
            user_agent,
            error_code,
            error_message,
            request_id,
            event_id,
            event_type,
            event_category,
            api_version,
            read_only,
            management_event,
            recipient_account_id,
            shared_event_id,
            vpc_endpoint_id,
            session_credential_from_console,
            identity,
            request_parameters,
            response_elements,
            additional_event_data,
            resources,
            service_event_details,
            tls_details,
            insight_details,
            addendum,
            edge_device_details,
            record_index,
        } = e;
        let Identity {
            kind,
            principal_id,
            arn,
            account_id,
            access_key_id,
            user_name,
            invoked_by,
            session_issuer_type,
            session_issuer_arn,
            session_issuer_user_name,
            session_issuer_account_id,
            mfa_authenticated,
            session_creation_time,
            source_identity,
            identity_provider,
            on_behalf_of_user_id,
            identity_store_arn,
            principal,
        } = identity;
        let o = Option::as_deref;
        // The order `event` reads them back in.
        let slots: [Option<&str>; SLOTS] = [
            o(event_version),
            Some(event_source),
            Some(event_name),
            o(aws_region),
            o(source_ip_address),
            o(user_agent),
            o(error_code),
            o(error_message),
            o(request_id),
            o(event_id),
            o(event_type),
            o(event_category),
            o(api_version),
            o(recipient_account_id),
            o(shared_event_id),
            o(vpc_endpoint_id),
            o(request_parameters),
            o(response_elements),
            o(additional_event_data),
            o(resources),
            o(service_event_details),
            o(tls_details),
            o(insight_details),
            o(addendum),
            o(edge_device_details),
            o(principal_id),
            o(arn),
            o(account_id),
            o(access_key_id),
            o(user_name),
            o(invoked_by),
            o(session_issuer_type),
            o(session_issuer_arn),
            o(session_issuer_user_name),
            o(session_issuer_account_id),
            o(source_identity),
            o(identity_provider),
            o(on_behalf_of_user_id),
            o(identity_store_arn),
            o(principal),
        ];
        let len: usize = slots.iter().flatten().map(|s| s.len()).sum();
        let mut text = String::with_capacity(len);
        let mut ends = [0u32; SLOTS];
        let mut present = 0u64;
        for (i, (s, end)) in slots.iter().zip(ends.iter_mut()).enumerate() {
            if let Some(s) = s {
                text.push_str(s);
                present |= 1 << i;
            }
            // Records are capped far below 4 GiB (256 KiB by default).
            *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        PackedEvent {
            text: text.into_boxed_str(),
            ends,
            present,
            event_time: *event_time,
            record_index: *record_index,
            source_ip: *source_ip,
            read_only: *read_only,
            management_event: *management_event,
            session_credential_from_console: *session_credential_from_console,
            mfa_authenticated: *mfa_authenticated,
            session_creation_time: *session_creation_time,
            kind: kind.clone(),
        }
    }

    /// Slot `i`'s text, `None` when the field was absent.
    fn slot(&self, i: usize) -> Option<&str> {
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = match i.checked_sub(1) {
            Some(p) => *self.ends.get(p)? as usize,
            None => 0,
        };
        let end = *self.ends.get(i)? as usize;
        self.text.get(start..end)
    }

    /// `eventTime`, microseconds UTC.
    pub fn event_time(&self) -> MicrosUtc {
        self.event_time
    }

    /// `eventID`.
    pub fn event_id(&self) -> Option<&str> {
        self.slot(9)
    }

    /// The event, rebuilt (equal to the one packed).
    pub fn event(&self) -> Event {
        let mut slots = (0..SLOTS).map(|i| self.slot(i).map(str::to_string));
        // Struct literal fields are evaluated in the order written: the slot order of `new`.
        let mut next = || slots.next().flatten();
        let mut e = Event {
            event_time: self.event_time,
            event_version: next(),
            event_source: next().unwrap_or_default(),
            event_name: next().unwrap_or_default(),
            aws_region: next(),
            source_ip_address: next(),
            source_ip: self.source_ip,
            user_agent: next(),
            error_code: next(),
            error_message: next(),
            request_id: next(),
            event_id: next(),
            event_type: next(),
            event_category: next(),
            api_version: next(),
            read_only: self.read_only,
            management_event: self.management_event,
            recipient_account_id: next(),
            shared_event_id: next(),
            vpc_endpoint_id: next(),
            session_credential_from_console: self.session_credential_from_console,
            identity: Identity::default(),
            request_parameters: next(),
            response_elements: next(),
            additional_event_data: next(),
            resources: next(),
            service_event_details: next(),
            tls_details: next(),
            insight_details: next(),
            addendum: next(),
            edge_device_details: next(),
            record_index: self.record_index,
        };
        e.identity = Identity {
            kind: self.kind.clone(),
            principal_id: next(),
            arn: next(),
            account_id: next(),
            access_key_id: next(),
            user_name: next(),
            invoked_by: next(),
            session_issuer_type: next(),
            session_issuer_arn: next(),
            session_issuer_user_name: next(),
            session_issuer_account_id: next(),
            mfa_authenticated: self.mfa_authenticated,
            session_creation_time: self.session_creation_time,
            source_identity: next(),
            identity_provider: next(),
            on_behalf_of_user_id: next(),
            identity_store_arn: next(),
            principal: next(),
        };
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = Option<String>> {
        prop::option::of(".{0,12}")
    }

    prop_compose! {
        fn identity()(
            kind in prop_oneof![
                Just(IdentityType::Root),
                Just(IdentityType::IamUser),
                Just(IdentityType::AssumedRole),
                Just(IdentityType::FederatedUser),
                Just(IdentityType::AwsService),
                Just(IdentityType::AwsAccount),
                Just(IdentityType::IdentityCenterUser),
                Just(IdentityType::SamlUser),
                Just(IdentityType::WebIdentityUser),
                Just(IdentityType::Unknown),
                ".{0,8}".prop_map(IdentityType::Other),
                Just(IdentityType::Missing),
            ],
            t in prop::collection::vec(text(), 15),
            mfa in prop::option::of(any::<bool>()),
            created in prop::option::of(any::<i64>()),
        ) -> Identity {
            let mut t = t.into_iter();
            let mut n = || t.next().flatten();
            Identity {
                kind,
                principal_id: n(),
                arn: n(),
                account_id: n(),
                access_key_id: n(),
                user_name: n(),
                invoked_by: n(),
                session_issuer_type: n(),
                session_issuer_arn: n(),
                session_issuer_user_name: n(),
                session_issuer_account_id: n(),
                mfa_authenticated: mfa,
                session_creation_time: created,
                source_identity: n(),
                identity_provider: n(),
                on_behalf_of_user_id: n(),
                identity_store_arn: n(),
                principal: n(),
            }
        }
    }

    prop_compose! {
        fn event()(
            t in prop::collection::vec(text(), 25),
            time in any::<i64>(),
            index in any::<u32>(),
            ip in prop::option::of(any::<IpAddr>()),
            flags in prop::collection::vec(prop::option::of(any::<bool>()), 3),
            identity in identity(),
        ) -> Event {
            let mut t = t.into_iter();
            let mut n = || t.next().flatten();
            Event {
                event_time: time,
                event_version: n(),
                event_source: n().unwrap_or_default(),
                event_name: n().unwrap_or_default(),
                aws_region: n(),
                source_ip_address: n(),
                source_ip: ip,
                user_agent: n(),
                error_code: n(),
                error_message: n(),
                request_id: n(),
                event_id: n(),
                event_type: n(),
                event_category: n(),
                api_version: n(),
                read_only: flags.first().copied().flatten(),
                management_event: flags.get(1).copied().flatten(),
                recipient_account_id: n(),
                shared_event_id: n(),
                vpc_endpoint_id: n(),
                session_credential_from_console: flags.get(2).copied().flatten(),
                identity,
                request_parameters: n(),
                response_elements: n(),
                additional_event_data: n(),
                resources: n(),
                service_event_details: n(),
                tls_details: n(),
                insight_details: n(),
                addendum: n(),
                edge_device_details: n(),
                record_index: index,
            }
        }
    }

    proptest! {
        #[test]
        fn a_packed_event_unpacks_to_the_same_event(e in event()) {
            let p = PackedEvent::new(&e);
            prop_assert_eq!(p.event(), e.clone());
            prop_assert_eq!(p.event_id(), e.event_id.as_deref());
            prop_assert_eq!(p.event_time(), e.event_time);
        }
    }

    #[test]
    fn absent_and_empty_fields_stay_apart() {
        let e = Event {
            error_code: Some(String::new()),
            user_agent: None,
            identity: Identity {
                arn: Some(String::new()),
                kind: IdentityType::Other(String::new()),
                ..Identity::default()
            },
            ..Event::default()
        };
        let back = PackedEvent::new(&e).event();
        assert_eq!(back.error_code.as_deref(), Some(""));
        assert_eq!(back.user_agent, None);
        assert_eq!(back.identity.arn.as_deref(), Some(""));
        assert_eq!(back, e);
    }
}
