//! The normalised principal key: one stable string per acting identity.
//!
//! Anomaly state, baselines and alerts are keyed on it, so it must not change between event
//! versions (older records lack `userName` on some types; the ARN is used then) and must not
//! explode in cardinality (an EC2 instance role gets a new session name per instance, yet it is
//! one principal). The forms, with `A` the account id:
//!
//! | `userIdentity.type` | key | example |
//! |---|---|---|
//! | Root | `A:root` | `111122223333:root` |
//! | IAMUser | `A:user/NAME` | `111122223333:user/alice` |
//! | AssumedRole, machine session | `A:role/ROLE` | `111122223333:role/ci-deploy` |
//! | AssumedRole, person's session | `A:role/ROLE/SESSION` | `111122223333:role/AWSReservedSSO_Admin_0123/alice@example.com` |
//! | FederatedUser | `A:federated-user/NAME` | `111122223333:federated-user/bob` |
//! | AWSService | `service:HOST` | `service:ec2.amazonaws.com` |
//! | AWSAccount | `account:A` | `account:444455556666` |
//! | IdentityCenterUser | `identity-center:USERID` | `identity-center:906723c7-…` |
//! | SAMLUser | `saml:PROVIDER/NAME` | `saml:arn:aws:iam::…:saml-provider/Okta/alice` |
//! | WebIdentityUser | `web-identity:PROVIDER/NAME` | `web-identity:accounts.google.com/1234` |
//! | Unknown | `unknown:A/NAME` (NAME: userName, else principalId) | `unknown:111122223333/HIDDEN_DUE_TO_SECURITY_REASONS` |
//! | any other type T | `T:ARN-or-principalId` | |
//! | no userIdentity | none | |
//!
//! An AssumedRole session belongs to a person when it carries a `sourceIdentity` (then that is
//! the SESSION part, as it survives role chaining), when the role is an IAM Identity Center
//! permission set (`AWSReservedSSO_*`), or when the session name is an e-mail address.

use crate::model::{Identity, IdentityType};

// keys are concatenated, not `format!`ed: this runs for every event and the formatting
// machinery was ~4 % of the decode threads' time in a profile
pub(crate) fn principal_key(id: &Identity) -> Option<String> {
    let acct = id
        .account_id
        .as_deref()
        .or_else(|| id.arn.as_deref().and_then(arn_account))
        .unwrap_or("-");
    let key = match &id.kind {
        IdentityType::Missing => return None,
        IdentityType::Root => [acct, ":root"].concat(),
        IdentityType::IamUser => {
            let name = id
                .user_name
                .as_deref()
                .or_else(|| {
                    id.arn
                        .as_deref()
                        .and_then(|a| arn_resource_last(a, "user/"))
                })
                .or(id.principal_id.as_deref())?;
            [acct, ":user/", name].concat()
        }
        IdentityType::AssumedRole => {
            let (arn_role, arn_session) = id
                .arn
                .as_deref()
                .and_then(assumed_role_parts)
                .unwrap_or((None, None));
            let role = id
                .session_issuer_user_name
                .as_deref()
                .or(arn_role)
                .or_else(|| {
                    id.session_issuer_arn
                        .as_deref()
                        .and_then(|a| arn_resource_last(a, "role/"))
                });
            let session = arn_session.or_else(|| {
                // principalId of a role session is "AROA…:SESSION"
                id.principal_id
                    .as_deref()
                    .and_then(|p| p.split_once(':').map(|(_, s)| s))
            });
            match role {
                None => [acct, ":role/", id.principal_id.as_deref()?].concat(),
                Some(role) => {
                    let person =
                        id.source_identity.as_deref().or(session
                            .filter(|s| role.starts_with("AWSReservedSSO_") || s.contains('@')));
                    match person {
                        Some(p) => [acct, ":role/", role, "/", p].concat(),
                        None => [acct, ":role/", role].concat(),
                    }
                }
            }
        }
        IdentityType::FederatedUser => {
            let name = id
                .arn
                .as_deref()
                .and_then(|a| arn_resource_last(a, "federated-user/"))
                .or_else(|| {
                    id.principal_id
                        .as_deref()
                        .and_then(|p| p.split_once(':').map(|(_, n)| n))
                })
                .or(id.user_name.as_deref())?;
            [acct, ":federated-user/", name].concat()
        }
        IdentityType::AwsService => {
            let host = id.invoked_by.as_deref().or(id.principal_id.as_deref())?;
            ["service:", host].concat()
        }
        IdentityType::AwsAccount => {
            let a = id.account_id.as_deref().or(id.principal_id.as_deref())?;
            ["account:", a].concat()
        }
        IdentityType::IdentityCenterUser => {
            let u = id
                .on_behalf_of_user_id
                .as_deref()
                .or(id.user_name.as_deref())
                .or(id.principal_id.as_deref())?;
            ["identity-center:", u].concat()
        }
        IdentityType::SamlUser | IdentityType::WebIdentityUser => {
            let prefix = if id.kind == IdentityType::SamlUser {
                "saml"
            } else {
                "web-identity"
            };
            let name = id.user_name.as_deref().or(id.principal_id.as_deref())?;
            [
                prefix,
                ":",
                id.identity_provider.as_deref().unwrap_or("-"),
                "/",
                name,
            ]
            .concat()
        }
        IdentityType::Unknown => {
            let name = id
                .user_name
                .as_deref()
                .or(id.principal_id.as_deref())
                .or(id.arn.as_deref())
                .unwrap_or("-");
            ["unknown:", acct, "/", name].concat()
        }
        IdentityType::Other(t) => {
            let who = id.arn.as_deref().or(id.principal_id.as_deref())?;
            [t, ":", who].concat()
        }
    };
    Some(key)
}

/// The account field of an ARN (`arn:partition:service:region:ACCOUNT:resource`).
fn arn_account(arn: &str) -> Option<&str> {
    let a = arn.split(':').nth(4)?;
    (!a.is_empty()).then_some(a)
}

/// The last path segment of an ARN resource that starts with `kind` (`user/path/NAME` → NAME).
fn arn_resource_last<'a>(arn: &'a str, kind: &str) -> Option<&'a str> {
    let res = arn.splitn(6, ':').nth(5)?;
    let rest = res.strip_prefix(kind)?;
    rest.rsplit('/').next().filter(|s| !s.is_empty())
}

/// `arn:aws:sts::A:assumed-role/ROLE/SESSION` → (ROLE, SESSION).
fn assumed_role_parts(arn: &str) -> Option<(Option<&str>, Option<&str>)> {
    let res = arn.splitn(6, ':').nth(5)?;
    let rest = res.strip_prefix("assumed-role/")?;
    let (role, session) = match rest.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (rest, None),
    };
    Some((
        (!role.is_empty()).then_some(role),
        session.filter(|s| !s.is_empty()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: IdentityType) -> Identity {
        Identity {
            kind,
            account_id: Some("111122223333".into()),
            ..Identity::default()
        }
    }

    #[test]
    fn root_and_user() {
        let mut i = id(IdentityType::Root);
        i.arn = Some("arn:aws:iam::111122223333:root".into());
        assert_eq!(principal_key(&i).as_deref(), Some("111122223333:root"));
        let mut u = id(IdentityType::IamUser);
        u.arn = Some("arn:aws:iam::111122223333:user/eng/alice".into());
        assert_eq!(
            principal_key(&u).as_deref(),
            Some("111122223333:user/alice")
        );
        u.user_name = Some("alice".into());
        assert_eq!(
            principal_key(&u).as_deref(),
            Some("111122223333:user/alice")
        );
    }

    #[test]
    fn assumed_role_machine_and_person() {
        let mut r = id(IdentityType::AssumedRole);
        r.arn = Some("arn:aws:sts::111122223333:assumed-role/app-role/i-0abc".into());
        assert_eq!(
            principal_key(&r).as_deref(),
            Some("111122223333:role/app-role")
        );
        // with the session issuer (newer event versions) the key is the same
        r.session_issuer_user_name = Some("app-role".into());
        assert_eq!(
            principal_key(&r).as_deref(),
            Some("111122223333:role/app-role")
        );
        r.arn = Some(
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_12/alice@example.com"
                .into(),
        );
        r.session_issuer_user_name = None;
        assert_eq!(
            principal_key(&r).as_deref(),
            Some("111122223333:role/AWSReservedSSO_Admin_12/alice@example.com")
        );
        r.source_identity = Some("bob".into());
        assert_eq!(
            principal_key(&r).as_deref(),
            Some("111122223333:role/AWSReservedSSO_Admin_12/bob")
        );
    }

    #[test]
    fn other_types() {
        let mut s = id(IdentityType::AwsService);
        s.account_id = None;
        s.invoked_by = Some("ec2.amazonaws.com".into());
        assert_eq!(
            principal_key(&s).as_deref(),
            Some("service:ec2.amazonaws.com")
        );
        let mut f = id(IdentityType::FederatedUser);
        f.arn = Some("arn:aws:sts::111122223333:federated-user/bob".into());
        assert_eq!(
            principal_key(&f).as_deref(),
            Some("111122223333:federated-user/bob")
        );
        let mut u = id(IdentityType::Unknown);
        u.user_name = Some("HIDDEN_DUE_TO_SECURITY_REASONS".into());
        assert_eq!(
            principal_key(&u).as_deref(),
            Some("unknown:111122223333/HIDDEN_DUE_TO_SECURITY_REASONS")
        );
        assert_eq!(principal_key(&Identity::default()), None);
    }
}
