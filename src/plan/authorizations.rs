//! Pure: how the source's grants become InfluxDB 2.x v1-compatible authorizations on
//! the tenant buckets. A 2.x authorization's permissions cannot be changed once made,
//! so a user that already has one and lacks some buckets is told to the operator with
//! the commands that fix it, never deleted and made again by the tool (that would drop
//! the password 1.x clients log in with).

use crate::influx::v2::{Action, V1Auth};
use crate::plan::catalog::{Privilege, UserGrant};
use serde::Serialize;
use std::collections::BTreeMap;

/// What one user's grant needs on the 2.x target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AuthStep {
    /// No v1 authorization of that name: create it with these permissions (no
    /// password: 1.x keeps only hashes; the operator sets it).
    Create {
        /// User name.
        user: String,
        /// (action, bucket id) pairs.
        permissions: Vec<(Action, String)>,
    },
    /// The user's authorization lacks these permissions: the operator must recreate it.
    Missing {
        /// User name.
        user: String,
        /// (action, bucket id) pairs it lacks.
        permissions: Vec<(Action, String)>,
        /// Every permission the recreated authorization needs.
        wanted: Vec<(Action, String)>,
    },
}

fn actions(p: Privilege) -> &'static [Action] {
    match p {
        Privilege::Read => &[Action::Read],
        Privilege::Write => &[Action::Write],
        Privilege::All => &[Action::Read, Action::Write],
    }
}

/// The steps that give every granted user, on every bucket in `buckets` (target
/// database -> bucket id), what its privilege on the source gave it. Users whose
/// authorization already has it all need no step.
pub fn steps(
    grants: &[UserGrant],
    buckets: &BTreeMap<String, String>,
    existing: &[V1Auth],
) -> Vec<AuthStep> {
    let mut out = Vec::new();
    for g in grants {
        let mut wanted: Vec<(Action, String)> = buckets
            .values()
            .flat_map(|id| actions(g.privilege).iter().map(move |a| (*a, id.clone())))
            .collect();
        wanted.sort();
        wanted.dedup();
        match existing.iter().find(|a| a.user == g.user) {
            None => out.push(AuthStep::Create {
                user: g.user.clone(),
                permissions: wanted,
            }),
            Some(a) => {
                let missing: Vec<_> = wanted
                    .iter()
                    .filter(|p| !a.permissions.contains(p))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    out.push(AuthStep::Missing {
                        user: g.user.clone(),
                        permissions: missing,
                        wanted,
                    });
                }
            }
        }
    }
    out
}

/// The `influx` CLI commands an operator runs for a step: set the password of a
/// created authorization, or recreate one that lacks buckets.
pub fn commands(step: &AuthStep) -> Vec<String> {
    let flags = |perms: &[(Action, String)]| -> String {
        perms
            .iter()
            .map(|(a, id)| format!(" --{}-bucket {id}", a.as_str()))
            .collect()
    };
    match step {
        AuthStep::Create { user, .. } => {
            vec![format!(
                "influx v1 auth set-password --username {}",
                shell_word(user)
            )]
        }
        AuthStep::Missing { user, wanted, .. } => vec![
            format!("influx v1 auth delete --username {}", shell_word(user)),
            format!(
                "influx v1 auth create --username {}{}",
                shell_word(user),
                flags(wanted)
            ),
            format!(
                "influx v1 auth set-password --username {}",
                shell_word(user)
            ),
        ],
    }
}

/// A shell word: kept as it is when plain, else single-quoted.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(user: &str, privilege: Privilege) -> UserGrant {
        UserGrant {
            user: user.into(),
            privilege,
        }
    }

    /// A user without an authorization gets one with its privilege on every bucket;
    /// one whose authorization covers everything needs nothing; one that lacks a
    /// bucket is reported with all it needs, never recreated by the tool.
    #[test]
    fn grants_become_authorizations() {
        let buckets: BTreeMap<String, String> =
            [("m_a".into(), "b1".into()), ("m_b".into(), "b2".into())].into();
        let existing = [
            V1Auth {
                user: "api".into(),
                permissions: vec![(Action::Read, "b1".into()), (Action::Read, "b2".into())],
            },
            V1Auth {
                user: "old".into(),
                permissions: vec![(Action::Write, "b1".into())],
            },
        ];
        let grants = [
            grant("api", Privilege::Read),
            grant("persister", Privilege::All),
            grant("old", Privilege::Write),
        ];
        let s = steps(&grants, &buckets, &existing);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(
            s[0],
            AuthStep::Create {
                user: "persister".into(),
                permissions: vec![
                    (Action::Read, "b1".into()),
                    (Action::Read, "b2".into()),
                    (Action::Write, "b1".into()),
                    (Action::Write, "b2".into()),
                ],
            }
        );
        let AuthStep::Missing {
            user, permissions, ..
        } = &s[1]
        else {
            panic!("{s:?}")
        };
        assert_eq!(
            (user.as_str(), permissions.as_slice()),
            ("old", &[(Action::Write, "b2".to_string())][..])
        );
        assert_eq!(
            commands(&s[1])[1],
            "influx v1 auth create --username old --write-bucket b1 --write-bucket b2"
        );
        assert_eq!(
            commands(&s[0]),
            ["influx v1 auth set-password --username persister"]
        );
    }

    /// User names that are not plain words are quoted for the shell.
    #[test]
    fn quotes_user_names() {
        assert_eq!(shell_word("a b'c"), r"'a b'\''c'");
    }
}
