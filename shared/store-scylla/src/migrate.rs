//! The versioned CQL migrations under `scylla/migrations/`, embedded at build time, and their
//! application: each pending file in version order, each recorded in `schema_version` after
//! its statements succeeded. Every statement is `IF NOT EXISTS`, so a file interrupted half
//! way is applied again whole.

use crate::config::ScyllaConfig;
use crate::error::{ConnectError, MigrateError};
use scylla::client::session::Session;
use scylla::value::CqlTimestamp;
use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

/// The migration files, in version order: (file name, text).
const EMBEDDED: [(&str, &str); 8] = [
    (
        "0001_keyspace.cql",
        include_str!("../../../scylla/migrations/0001_keyspace.cql"),
    ),
    (
        "0002_read_models.cql",
        include_str!("../../../scylla/migrations/0002_read_models.cql"),
    ),
    (
        "0003_hidden.cql",
        include_str!("../../../scylla/migrations/0003_hidden.cql"),
    ),
    (
        "0004_annotations.cql",
        include_str!("../../../scylla/migrations/0004_annotations.cql"),
    ),
    (
        "0005_settings.cql",
        include_str!("../../../scylla/migrations/0005_settings.cql"),
    ),
    (
        "0007_push.cql",
        include_str!("../../../scylla/migrations/0007_push.cql"),
    ),
    (
        "0008_broadcasts.cql",
        include_str!("../../../scylla/migrations/0008_broadcasts.cql"),
    ),
    (
        "0009_devices.cql",
        include_str!("../../../scylla/migrations/0009_devices.cql"),
    ),
];

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    /// The file name, `NNNN_name.cql`.
    pub file: &'static str,
    text: &'static str,
}

impl Migration {
    /// The statements of the file with its placeholders filled, in order.
    pub fn statements(
        &self,
        keyspace: &str,
        replication: &str,
    ) -> Result<Vec<String>, MigrateError> {
        let filled =
            fill(self.text, keyspace, replication).map_err(|reason| MigrateError::Invalid {
                file: self.file.into(),
                reason,
            })?;
        Ok(split_statements(&filled))
    }
}

/// Every embedded migration, checked: named `NNNN_name.cql`, versions increasing. Numbers may
/// be skipped (work in parallel reserves them; `apply_pending` applies every version not yet
/// recorded, so one that lands later is still applied).
pub fn migrations() -> Result<Vec<Migration>, MigrateError> {
    let mut out: Vec<Migration> = Vec::with_capacity(EMBEDDED.len());
    for (file, text) in EMBEDDED {
        let invalid = |reason: String| MigrateError::Invalid {
            file: file.into(),
            reason,
        };
        let version = parse_file_name(file).map_err(invalid)?;
        let previous = out.last().map_or(0, |m| m.version);
        if version <= previous {
            return Err(invalid(format!(
                "version {version}, expected one above {previous}"
            )));
        }
        out.push(Migration {
            version,
            file,
            text,
        });
    }
    Ok(out)
}

/// The version of a file named `NNNN_name.cql`.
fn parse_file_name(file: &str) -> Result<u32, String> {
    let stem = file
        .strip_suffix(".cql")
        .ok_or_else(|| "a migration file name ends in .cql".to_owned())?;
    let (digits, name) = stem
        .split_once('_')
        .ok_or_else(|| "a migration file is named NNNN_name.cql".to_owned())?;
    let named = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) || !named {
        return Err("a migration file is named NNNN_name.cql (lowercase name)".into());
    }
    digits.parse().map_err(|e| format!("version {digits}: {e}"))
}

/// Replaces `{{keyspace}}` and `{{replication}}`; any other placeholder is an error.
pub fn fill(text: &str, keyspace: &str, replication: &str) -> Result<String, String> {
    let filled = text
        .replace("{{keyspace}}", keyspace)
        .replace("{{replication}}", replication.trim());
    match filled.find("{{") {
        Some(at) => {
            let rest = &filled[at..];
            let end = rest.find("}}").map_or(rest.len(), |e| e + 2);
            Err(format!("unknown placeholder {}", &rest[..end]))
        }
        None => Ok(filled),
    }
}

/// Splits CQL text into statements at `;`, dropping `--` comments and blank statements.
/// Quoted strings may contain `;` and `--`.
pub fn split_statements(text: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut in_quote = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_quote = !in_quote;
                current.push(c);
            }
            '-' if !in_quote && chars.peek() == Some(&'-') => {
                // A comment runs to the end of its line.
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        current.push('\n');
                        break;
                    }
                }
            }
            ';' if !in_quote => {
                push_statement(&mut statements, &current);
                current.clear();
            }
            _ => current.push(c),
        }
    }
    push_statement(&mut statements, &current);
    statements
}

fn push_statement(statements: &mut Vec<String>, raw: &str) {
    let lines: Vec<&str> = raw
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if !lines.is_empty() {
        statements.push(lines.join("\n").trim().to_owned());
    }
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Files applied by this run, in order.
    pub applied: Vec<&'static str>,
    /// Files that an earlier run had applied.
    pub already: Vec<&'static str>,
}

/// Connects with `config` and applies every pending migration.
pub async fn migrate(config: &ScyllaConfig) -> Result<Report, MigrateError> {
    config.validate().map_err(ConnectError::from)?;
    let session = crate::store::session(config).await?;
    apply_pending(&session, config).await
}

/// Applies the migrations `schema_version` does not list, in order, recording each.
pub async fn apply_pending(
    session: &Session,
    config: &ScyllaConfig,
) -> Result<Report, MigrateError> {
    let keyspace = &config.keyspace;
    let done = applied_versions(session, keyspace).await?;
    let mut report = Report {
        applied: Vec::new(),
        already: Vec::new(),
    };
    for migration in migrations()? {
        if done.contains(&migration.version) {
            report.already.push(migration.file);
            continue;
        }
        for statement in migration.statements(keyspace, &config.replication)? {
            // DDL: the driver waits for schema agreement after each statement.
            session
                .query_unpaged(statement.as_str(), ())
                .await
                .map_err(|source| MigrateError::Execute {
                    file: migration.file.into(),
                    statement: statement.clone(),
                    source: Box::new(source),
                })?;
        }
        let record = format!(
            "INSERT INTO {keyspace}.schema_version (version, name, applied_at) VALUES (?, ?, ?)"
        );
        let version = i32::try_from(migration.version).expect("versions are small");
        session
            .query_unpaged(record.as_str(), (version, migration.file, now()))
            .await
            .map_err(|source| MigrateError::Execute {
                file: migration.file.into(),
                statement: record.clone(),
                source: Box::new(source),
            })?;
        tracing::info!(file = migration.file, %keyspace, "applied migration");
        report.applied.push(migration.file);
    }
    Ok(report)
}

fn now() -> CqlTimestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    CqlTimestamp(ms)
}

/// Versions listed in `schema_version`; none when the keyspace or the table does not exist.
async fn applied_versions(
    session: &Session,
    keyspace: &str,
) -> Result<BTreeSet<u32>, MigrateError> {
    let applied = |e: Box<dyn std::error::Error + Send + Sync>| MigrateError::Applied(e);
    let exists = session
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
            (keyspace, "schema_version"),
        )
        .await
        .map_err(|e| applied(e.into()))?
        .into_rows_result()
        .map_err(|e| applied(e.into()))?
        .rows_num()
        > 0;
    if !exists {
        return Ok(BTreeSet::new());
    }
    let rows = session
        .query_unpaged(format!("SELECT version FROM {keyspace}.schema_version"), ())
        .await
        .map_err(|e| applied(e.into()))?
        .into_rows_result()
        .map_err(|e| applied(e.into()))?;
    rows.rows::<(i32,)>()
        .map_err(|e| applied(e.into()))?
        .map(|row| {
            let (version,) = row.map_err(|e| applied(e.into()))?;
            u32::try_from(version).map_err(|e| applied(e.into()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_REPLICATION;

    #[test]
    fn every_file_on_disk_is_embedded_in_version_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scylla/migrations");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".cql"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = migrations().unwrap().iter().map(|m| m.file).collect();
        assert_eq!(on_disk, embedded);
        for (file, text) in EMBEDDED {
            let path = format!("{dir}/{file}");
            assert_eq!(std::fs::read_to_string(path).unwrap(), text, "{file}");
        }
    }

    #[test]
    fn file_names_carry_their_version() {
        assert_eq!(parse_file_name("0001_keyspace.cql"), Ok(1));
        assert_eq!(parse_file_name("0042_add_index.cql"), Ok(42));
        for bad in [
            "1_keyspace.cql",
            "0001-keyspace.cql",
            "0001_.cql",
            "0001_Keyspace.cql",
            "0001_keyspace.sql",
            "abcd_keyspace.cql",
        ] {
            assert!(parse_file_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn placeholders_are_filled_and_unknown_ones_refused() {
        let text = "CREATE KEYSPACE IF NOT EXISTS {{keyspace}} WITH replication = {{replication}};";
        assert_eq!(
            fill(
                text,
                "ks",
                " {'class': 'SimpleStrategy', 'replication_factor': 1} "
            )
            .unwrap(),
            "CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};"
        );
        assert_eq!(
            fill("SELECT * FROM {{keyspace}}.{{table}}", "ks", "{}"),
            Err("unknown placeholder {{table}}".into())
        );
    }

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        let text = "-- header; with a semicolon\nCREATE TABLE a (x int PRIMARY KEY); -- trailing\n\n\
                    INSERT INTO a (x) VALUES ('semi;colon -- not a comment');\n-- only a comment;\n";
        assert_eq!(
            split_statements(text),
            [
                "CREATE TABLE a (x int PRIMARY KEY)",
                "INSERT INTO a (x) VALUES ('semi;colon -- not a comment')",
            ]
        );
    }

    #[test]
    fn the_embedded_migrations_fill_and_split() {
        let all: Vec<Vec<String>> = migrations()
            .unwrap()
            .iter()
            .map(|m| m.statements("tidings", DEFAULT_REPLICATION).unwrap())
            .collect();
        assert_eq!(
            all[0],
            [
                format!("CREATE KEYSPACE IF NOT EXISTS tidings\n    WITH replication = {DEFAULT_REPLICATION}"),
                "CREATE TABLE IF NOT EXISTS tidings.schema_version (\n    version int,\n    name text,\n    applied_at timestamp,\n    PRIMARY KEY (version)\n)".into(),
            ]
        );
        for statement in all.iter().flatten() {
            assert!(
                statement.starts_with("CREATE KEYSPACE IF NOT EXISTS tidings")
                    || statement.starts_with("CREATE TABLE IF NOT EXISTS tidings."),
                "every statement is idempotent DDL: {statement}"
            );
            assert!(!statement.contains("--") && !statement.contains("{{"));
        }
    }
}
