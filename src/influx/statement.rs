//! InfluxQL text: quoting and the statements the tool issues. Pure.
//!
//! Every name that reaches a statement (database, retention policy, measurement, tag
//! key, tenant id) is data from the server or the user and goes through [`ident`] or
//! [`string`]; no statement is built by pasting a raw name.

use crate::core::interval::Interval;
use std::fmt::Write;

/// Quotes an identifier with `"`, escaping `\`, `"` and newlines the way the InfluxQL
/// scanner reads them back.
pub fn ident(name: &str) -> String {
    quote(name, '"')
}

/// Quotes a string literal with `'` (InfluxQL accepts `\'`, not `''`).
pub fn string(value: &str) -> String {
    quote(value, '\'')
}

fn quote(s: &str, q: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// A fully qualified measurement prefix: database and retention policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rp<'a> {
    /// Database name.
    pub db: &'a str,
    /// Retention policy name.
    pub rp: &'a str,
}

impl Rp<'_> {
    /// `"db"."rp"."measurement"`.
    pub fn measurement(&self, m: &str) -> String {
        format!("{}.{}.{}", ident(self.db), ident(self.rp), ident(m))
    }
}

/// `SHOW DATABASES`.
pub fn show_databases() -> String {
    "SHOW DATABASES".to_string()
}

/// `SHOW RETENTION POLICIES ON "db"`.
pub fn show_retention_policies(db: &str) -> String {
    format!("SHOW RETENTION POLICIES ON {}", ident(db))
}

/// `SHOW MEASUREMENTS ON "db"`.
pub fn show_measurements(db: &str) -> String {
    format!("SHOW MEASUREMENTS ON {}", ident(db))
}

/// Tenant ids per measurement: `SHOW TAG VALUES ON "db" WITH KEY = "tag"`.
pub fn show_tenants(db: &str, tag: &str) -> String {
    format!("SHOW TAG VALUES ON {} WITH KEY = {}", ident(db), ident(tag))
}

/// `SHOW FIELD KEYS ON "db"`.
pub fn show_field_keys(db: &str) -> String {
    format!("SHOW FIELD KEYS ON {}", ident(db))
}

/// `SHOW TAG KEYS ON "db"`.
pub fn show_tag_keys(db: &str) -> String {
    format!("SHOW TAG KEYS ON {}", ident(db))
}

/// `SHOW SHARDS` (all databases; the caller filters).
pub fn show_shards() -> String {
    "SHOW SHARDS".to_string()
}

/// The tenant filter `"tag"::tag = 'tenant'`: `::tag` because a measurement may also
/// have a field of that name (monasca-persister's alarm history has a tag and a string
/// field `tenant_id`), and a bare name in WHERE reads the field.
pub fn tenant_filter(tag: &str, tenant: &str) -> String {
    format!("{}::tag = {}", ident(tag), string(tenant))
}

/// Tenant ids in some measurements: `SHOW TAG VALUES ON "db" FROM "m",... WITH KEY = "tag"`.
pub fn show_tenants_in(db: &str, measurements: &[String], tag: &str) -> String {
    let from: Vec<String> = measurements.iter().map(|m| ident(m)).collect();
    format!(
        "SHOW TAG VALUES ON {} FROM {} WITH KEY = {}",
        ident(db),
        from.join(","),
        ident(tag)
    )
}

/// The points of one measurement, as the largest field count: `SELECT count(*) FROM ...`.
pub fn count_points(src: &Rp<'_>, measurement: &str) -> String {
    format!("SELECT count(*) FROM {}", src.measurement(measurement))
}

fn from_list(src: &Rp<'_>, measurements: &[String]) -> String {
    let mut out = String::new();
    for (i, m) in measurements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&src.measurement(m));
    }
    out
}

/// The first (or last) point of a tenant in each measurement: one row per measurement.
/// With `bound`, only a first point before it (or a last point at or after it) is
/// asked: the server then opens only the shards on that side of it.
pub fn tenant_extent(
    src: &Rp<'_>,
    measurements: &[String],
    tag: &str,
    tenant: &str,
    last: bool,
    bound: Option<i64>,
) -> String {
    let time = match (bound, last) {
        (None, _) => String::new(),
        (Some(t), false) => format!(" AND time < {t}"),
        (Some(t), true) => format!(" AND time >= {t}"),
    };
    format!(
        "SELECT * FROM {} WHERE {}{time} ORDER BY time {} LIMIT 1",
        from_list(src, measurements),
        tenant_filter(tag, tenant),
        if last { "DESC" } else { "ASC" }
    )
}

/// `CREATE DATABASE "db"` (a no-op when it exists).
pub fn create_database(db: &str) -> String {
    format!("CREATE DATABASE {}", ident(db))
}

/// `CREATE DATABASE "db" WITH DURATION d REPLICATION 1 SHARD DURATION s NAME "rp"`:
/// the database with `rp` as its only, default policy (no `autogen`), in one statement.
pub fn create_database_with_policy(db: &str, rp: &str, duration: &str, shard: &str) -> String {
    format!(
        "CREATE DATABASE {} WITH DURATION {} REPLICATION 1 SHARD DURATION {} NAME {}",
        ident(db),
        duration,
        shard,
        ident(rp)
    )
}

/// `CREATE RETENTION POLICY "name" ON "db" DURATION d REPLICATION 1 SHARD DURATION s
/// DEFAULT`.
pub fn create_sharded_default_policy(db: &str, name: &str, duration: &str, shard: &str) -> String {
    format!(
        "CREATE RETENTION POLICY {} ON {} DURATION {} REPLICATION 1 SHARD DURATION {} DEFAULT",
        ident(name),
        ident(db),
        duration,
        shard
    )
}

/// `ALTER RETENTION POLICY "name" ON "db"`, with `DURATION d` when given and `DEFAULT`
/// when `default`.
pub fn alter_retention_policy(
    db: &str,
    name: &str,
    duration: Option<&str>,
    default: bool,
) -> String {
    let mut q = format!("ALTER RETENTION POLICY {} ON {}", ident(name), ident(db));
    if let Some(d) = duration {
        let _ = write!(q, " DURATION {d}");
    }
    if default {
        q.push_str(" DEFAULT");
    }
    q
}

/// `SHOW USERS` (admin only).
pub fn show_users() -> String {
    "SHOW USERS".to_string()
}

/// `SHOW GRANTS FOR "user"` (admin only).
pub fn show_grants(user: &str) -> String {
    format!("SHOW GRANTS FOR {}", ident(user))
}

/// `GRANT READ|WRITE|ALL ON "db" TO "user"` (idempotent in InfluxDB).
pub fn grant(privilege: &str, db: &str, user: &str) -> String {
    format!("GRANT {privilege} ON {} TO {}", ident(db), ident(user))
}

/// The copy statement for one chunk: every field and tag of the tenant's points in
/// `window`, from several measurements at once, into the same measurement names in
/// the target. `GROUP BY *` keeps tags as tags.
pub fn select_into(
    src: &Rp<'_>,
    dst: &Rp<'_>,
    measurements: &[String],
    tag: &str,
    tenant: &str,
    window: Interval,
) -> String {
    let mut q = String::with_capacity(128 + measurements.len() * 48);
    let _ = write!(
        q,
        "SELECT * INTO {}.{}.:MEASUREMENT FROM {} WHERE {} AND time >= {} AND time < {} GROUP BY *",
        ident(dst.db),
        ident(dst.rp),
        from_list(src, measurements),
        tenant_filter(tag, tenant),
        window.start,
        window.end
    );
    q
}

/// The read statement of a cross-server copy or an export: every field of the
/// tenant's points in `window`, tags as series tags (`GROUP BY *`).
pub fn select_chunk(
    src: &Rp<'_>,
    measurements: &[String],
    tag: &str,
    tenant: &str,
    window: Interval,
) -> String {
    format!(
        "SELECT * FROM {} WHERE {} AND time >= {} AND time < {} GROUP BY *",
        from_list(src, measurements),
        tenant_filter(tag, tenant),
        window.start,
        window.end
    )
}

/// A `SELECT ... INTO` with transforms. `into` names the target measurement (`None`:
/// `:MEASUREMENT`, the source names). `group_by` `None` copies every tag
/// (`SELECT * ... GROUP BY *`); `Some(keys)` keeps only those tags: `SELECT *::field`
/// (a plain `*` would turn every tag not grouped by into a string field) grouped by
/// exactly `keys`.
#[allow(clippy::too_many_arguments)]
pub fn select_into_as(
    src: &Rp<'_>,
    dst: &Rp<'_>,
    into: Option<&str>,
    measurements: &[String],
    tag: &str,
    tenant: &str,
    window: Interval,
    group_by: Option<&[String]>,
) -> String {
    let target = match into {
        Some(m) => dst.measurement(m),
        None => format!("{}.{}.:MEASUREMENT", ident(dst.db), ident(dst.rp)),
    };
    let (fields, group) = match group_by {
        None => ("*", " GROUP BY *".to_string()),
        Some([]) => ("*::field", String::new()),
        Some(keys) => (
            "*::field",
            format!(
                " GROUP BY {}",
                keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(",")
            ),
        ),
    };
    format!(
        "SELECT {fields} INTO {target} FROM {} WHERE {} AND time >= {} AND time < {}{group}",
        from_list(src, measurements),
        tenant_filter(tag, tenant),
        window.start,
        window.end
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quotes and backslashes are escaped so the scanner reads the exact name back.
    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(ident("cpu"), r#""cpu""#);
        assert_eq!(ident(r#"we"ird"#), r#""we\"ird""#);
        assert_eq!(ident(r"a\b"), r#""a\\b""#);
        assert_eq!(ident("it's"), r#""it's""#);
        assert_eq!(string("it's"), r"'it\'s'");
        assert_eq!(string(r"x\' OR '1'='1"), r"'x\\\' OR \'1\'=\'1'");
        assert_eq!(string("two\nlines"), r"'two\nlines'");
        assert_eq!(string("ünï ,="), "'ünï ,='");
    }

    /// A hostile tenant id stays inside its string literal: the statement keeps one WHERE
    /// clause with exactly the tenant filter and the time bounds.
    #[test]
    fn select_into_cannot_be_injected() {
        let src = Rp {
            db: "monasca",
            rp: "autogen",
        };
        let dst = Rp {
            db: "monasca_x",
            rp: "2w",
        };
        let q = select_into(
            &src,
            &dst,
            &["cpu.idle_perc".into(), "m\"x".into()],
            "_tenant_id",
            "x' OR '1'='1",
            Interval::new(10, 20),
        );
        assert_eq!(
            q,
            r#"SELECT * INTO "monasca_x"."2w".:MEASUREMENT FROM "monasca"."autogen"."cpu.idle_perc","monasca"."autogen"."m\"x" WHERE "_tenant_id"::tag = 'x\' OR \'1\'=\'1' AND time >= 10 AND time < 20 GROUP BY *"#
        );
    }

    /// Retention policy creation names the policy, the database, the duration and the
    /// shard group duration.
    #[test]
    fn create_retention_policy_text() {
        assert_eq!(
            create_sharded_default_policy("monasca_a b", "2w", "2w", "1d"),
            r#"CREATE RETENTION POLICY "2w" ON "monasca_a b" DURATION 2w REPLICATION 1 SHARD DURATION 1d DEFAULT"#
        );
    }

    /// A new database gets its one policy in one statement; the not-applied retention
    /// statements and grants quote every name.
    #[test]
    fn policy_and_grant_text() {
        assert_eq!(
            create_database_with_policy("monasca_a\"b", "monasca_metrics", "1w", "1d"),
            r#"CREATE DATABASE "monasca_a\"b" WITH DURATION 1w REPLICATION 1 SHARD DURATION 1d NAME "monasca_metrics""#
        );
        assert_eq!(
            alter_retention_policy("m_t", "2w", Some("2w"), true),
            r#"ALTER RETENTION POLICY "2w" ON "m_t" DURATION 2w DEFAULT"#
        );
        assert_eq!(
            alter_retention_policy("m_t", "autogen", Some("1w"), false),
            r#"ALTER RETENTION POLICY "autogen" ON "m_t" DURATION 1w"#
        );
        assert_eq!(
            grant("READ", "m_t", "mon'api"),
            r#"GRANT READ ON "m_t" TO "mon'api""#
        );
        assert_eq!(show_grants("a\"b"), r#"SHOW GRANTS FOR "a\"b""#);
    }

    /// The chunk read groups by every tag, so tags come back as tags.
    #[test]
    fn select_chunk_text() {
        let src = Rp {
            db: "monasca",
            rp: "autogen",
        };
        assert_eq!(
            select_chunk(
                &src,
                &["a".into(), "b".into()],
                "_tenant_id",
                "t'1",
                Interval::new(1, 2)
            ),
            r#"SELECT * FROM "monasca"."autogen"."a","monasca"."autogen"."b" WHERE "_tenant_id"::tag = 't\'1' AND time >= 1 AND time < 2 GROUP BY *"#
        );
    }

    /// Transformed SELECT INTO: without a group list it is the plain statement; with
    /// one it selects only fields and groups by exactly the given tags; a renamed
    /// measurement is written into its new name.
    #[test]
    fn select_into_as_text() {
        let src = Rp {
            db: "s",
            rp: "autogen",
        };
        let dst = Rp { db: "t", rp: "rp" };
        let ms = ["a".to_string(), "b".to_string()];
        let w = Interval::new(10, 20);
        assert_eq!(
            select_into_as(&src, &dst, None, &ms, "_tenant_id", "x", w, None),
            select_into(&src, &dst, &ms, "_tenant_id", "x", w)
        );
        assert_eq!(
            select_into_as(
                &src,
                &dst,
                None,
                &ms,
                "_tenant_id",
                "x",
                w,
                Some(&["dev".into(), "host".into()])
            ),
            r#"SELECT *::field INTO "t"."rp".:MEASUREMENT FROM "s"."autogen"."a","s"."autogen"."b" WHERE "_tenant_id"::tag = 'x' AND time >= 10 AND time < 20 GROUP BY "dev","host""#
        );
        assert_eq!(
            select_into_as(
                &src,
                &dst,
                Some("new\"m"),
                &ms[..1],
                "_tenant_id",
                "x",
                w,
                Some(&[])
            ),
            r#"SELECT *::field INTO "t"."rp"."new\"m" FROM "s"."autogen"."a" WHERE "_tenant_id"::tag = 'x' AND time >= 10 AND time < 20"#
        );
    }
}
