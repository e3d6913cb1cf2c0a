//! Checks, by parsing the CQL text, that every statement in `statements` fits the tables the
//! migrations create: the table and its columns exist, reads restrict the whole partition key
//! (so none needs ALLOW FILTERING or scans, except the digest's `SELECT DISTINCT` partition
//! listings), writes name the whole primary key, and the growing tables are bucketed.

use crate::config::DEFAULT_REPLICATION;
use crate::migrate::migrations;
use crate::statements::CQL;
use std::collections::{BTreeMap, BTreeSet};

const KS: &str = "ks";

#[derive(Debug, Default)]
pub(crate) struct Table {
    pub(crate) columns: BTreeSet<String>,
    pub(crate) partition: Vec<String>,
    pub(crate) clustering: Vec<String>,
    /// Clustering column -> "ASC" | "DESC".
    order: BTreeMap<String, String>,
}

/// The words, operators and punctuation of a CQL statement.
pub(crate) fn tokens(cql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = cql.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                    word.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(word);
        } else if "<>=".contains(c) {
            let mut op = String::new();
            while let Some(&c) = chars.peek() {
                if "<>=".contains(c) {
                    op.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(op);
        } else {
            out.push(c.to_string());
            chars.next();
        }
    }
    out
}

/// Identifiers between a `(` at `from` and its matching `)`, split at top-level commas.
pub(crate) fn list(tokens: &[String], from: usize) -> (Vec<Vec<String>>, usize) {
    assert_eq!(tokens[from], "(");
    let (mut depth, mut items, mut item) = (0, Vec::new(), Vec::new());
    for (i, t) in tokens.iter().enumerate().skip(from) {
        match t.as_str() {
            "(" => {
                depth += 1;
                if depth > 1 {
                    item.push(t.clone());
                }
            }
            ")" => {
                depth -= 1;
                if depth == 0 {
                    items.push(std::mem::take(&mut item));
                    return (items, i + 1);
                }
                item.push(t.clone());
            }
            "," if depth == 1 => items.push(std::mem::take(&mut item)),
            _ => item.push(t.clone()),
        }
    }
    panic!("unbalanced parentheses");
}

/// The tables the migrations create, by name.
pub(crate) fn tables() -> BTreeMap<String, Table> {
    let mut out = BTreeMap::new();
    for migration in migrations().unwrap() {
        for statement in migration.statements(KS, DEFAULT_REPLICATION).unwrap() {
            let t = tokens(&statement);
            if t[..5].join(" ") != "CREATE TABLE IF NOT EXISTS" {
                continue;
            }
            let name = t[5]
                .strip_prefix("ks.")
                .expect("qualified table")
                .to_owned();
            let (items, end) = list(&t, 6);
            let mut table = Table::default();
            for item in items {
                if item[0] == "PRIMARY" {
                    let key = &item[2..];
                    let (parts, _) = list(key, 0);
                    let first = &parts[0];
                    table.partition = if first[0] == "(" {
                        first[1..first.len() - 1]
                            .iter()
                            .filter(|t| *t != ",")
                            .cloned()
                            .collect()
                    } else {
                        first.clone()
                    };
                    table.clustering = parts[1..].iter().map(|p| p[0].clone()).collect();
                } else {
                    table.columns.insert(item[0].clone());
                }
            }
            if let Some(at) = t.iter().position(|t| t == "ORDER") {
                assert!(at > end && t[at - 1] == "CLUSTERING");
                let (orders, _) = list(&t, at + 2);
                for order in orders {
                    table.order.insert(order[0].clone(), order[1].clone());
                }
            }
            for column in table.partition.iter().chain(&table.clustering) {
                assert!(table.columns.contains(column), "{name}: key {column}");
            }
            out.insert(name, table);
        }
    }
    out
}

/// `column op ?` restrictions after `WHERE`, up to ORDER/LIMIT/end.
pub(crate) fn restrictions(t: &[String]) -> Vec<(String, String)> {
    let Some(at) = t.iter().position(|t| t == "WHERE") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut i = at + 1;
    while i + 2 < t.len() + 1 && !["ORDER", "LIMIT"].contains(&t[i].as_str()) {
        assert_eq!(t[i + 2], "?", "restrictions bind values: {t:?}");
        out.push((t[i].clone(), t[i + 1].clone()));
        i += 3;
        if i < t.len() && t[i] == "AND" {
            i += 1;
        } else {
            break;
        }
    }
    out
}

/// The columns a select list reads: `a, b` or `WRITETIME(a)` (the write time of column `a`).
fn selected_columns(list: &[String]) -> Vec<String> {
    list.split(|t| t == ",")
        .map(|item| match item {
            [column] => column.clone(),
            [f, open, column, close] if f == "WRITETIME" && open == "(" && close == ")" => {
                column.clone()
            }
            other => panic!("unexpected select item {other:?}"),
        })
        .collect()
}

fn table_of<'a>(
    tables: &'a BTreeMap<String, Table>,
    name: &str,
    qualified: &str,
) -> (&'a Table, String) {
    let table = qualified
        .strip_prefix("ks.")
        .unwrap_or_else(|| panic!("{name}: table {qualified} is qualified by the keyspace"));
    let found = tables
        .get(table)
        .unwrap_or_else(|| panic!("{name}: table {table} is not created by a migration"));
    (found, table.to_owned())
}

#[test]
fn every_statement_fits_the_migrated_tables() {
    let tables = tables();
    let mut used = BTreeSet::new();
    for (name, cql) in CQL {
        let cql = crate::statements::with_keyspace(cql, KS);
        assert!(!cql.contains("ALLOW FILTERING"), "{name}");
        let t = tokens(&cql);
        match t[0].as_str() {
            "SELECT" => {
                let from = t.iter().position(|t| t == "FROM").unwrap();
                let (table, table_name) = table_of(&tables, name, &t[from + 1]);
                used.insert(table_name.clone());
                let distinct = t[1] == "DISTINCT";
                let selected = selected_columns(&t[1 + usize::from(distinct)..from]);
                for column in &selected {
                    assert!(table.columns.contains(column), "{name}: {column}");
                }
                let restricted = restrictions(&t);
                assert!(!distinct, "{name}: no statement lists partitions");
                if restricted.is_empty() {
                    assert!(name.starts_with("scan_"), "{name}: only the digest scans");
                    continue;
                }
                for column in &table.partition {
                    assert!(
                        restricted.iter().any(|(c, op)| c == column && op == "="),
                        "{name}: partition key column {column} is not bound with ="
                    );
                }
                let mut clustering: Vec<&(String, String)> = restricted
                    .iter()
                    .filter(|(c, _)| !table.partition.contains(c))
                    .collect();
                // A two-sided range (`c >= ? AND c <= ?`) restricts one column.
                clustering.dedup_by(|b, a| a.0 == b.0 && a.1 != "=" && b.1 != "=");
                for (i, (column, op)) in clustering.iter().enumerate() {
                    assert_eq!(
                        table.clustering.get(i),
                        Some(column),
                        "{name}: restricts {column}, not a clustering prefix"
                    );
                    if op != "=" {
                        assert_eq!(i, clustering.len() - 1, "{name}: range before the end");
                    }
                }
                if let Some(at) = t.iter().position(|t| t == "ORDER") {
                    assert!(table.clustering.contains(&t[at + 2]), "{name}: ORDER BY");
                }
            }
            "INSERT" => {
                let (table, table_name) = table_of(&tables, name, &t[2]);
                used.insert(table_name);
                let (columns, next) = list(&t, 3);
                let columns: Vec<String> = columns.into_iter().map(|c| c[0].clone()).collect();
                for column in &columns {
                    assert!(table.columns.contains(column), "{name}: {column}");
                }
                for column in table.partition.iter().chain(&table.clustering) {
                    assert!(columns.contains(column), "{name}: misses key {column}");
                }
                assert_eq!(t[next], "VALUES");
                let (values, _) = list(&t, next + 1);
                assert_eq!(values.len(), columns.len(), "{name}: one value per column");
            }
            "DELETE" => {
                let (table, table_name) = table_of(&tables, name, &t[2]);
                used.insert(table_name);
                let restricted = restrictions(&t);
                for column in table.partition.iter().chain(&table.clustering) {
                    assert!(
                        restricted.iter().any(|(c, op)| c == column && op == "="),
                        "{name}: deletes one row by its whole key ({column})"
                    );
                }
            }
            other => panic!("{name}: unexpected statement {other}"),
        }
    }
    let created: BTreeSet<String> = tables.keys().cloned().collect();
    let unused: Vec<&String> = created
        .difference(&used)
        .filter(|t| *t != "schema_version")
        .collect();
    assert!(unused.is_empty(), "tables no statement uses: {unused:?}");
}

#[test]
fn tables_mirror_the_embedded_store_with_bounded_partitions() {
    let tables = tables();
    let event_derived = tidings_store::digest::Table::ALL.map(|t| t.name());
    for name in event_derived
        .iter()
        .chain(&["checkpoints", "devices", "schema_version"])
    {
        assert!(tables.contains_key(*name), "missing table {name}");
    }
    // Growing tables carry a bucket in their partition key.
    for name in ["inbox", "timeline", "users_by_cursor"] {
        assert!(
            tables[name].partition.contains(&"bucket".to_owned()),
            "{name}"
        );
    }
    // Clustering order follows the read path.
    let order = |table: &str, column: &str| tables[table].order[column].clone();
    assert_eq!(order("inbox", "seq"), "ASC");
    assert_eq!(order("timeline", "conv_seq"), "DESC");
    assert_eq!(order("timeline_buckets", "bucket"), "DESC");
    assert_eq!(order("users_by_cursor", "cursor"), "ASC");
    assert_eq!(order("users_by_cursor_buckets", "bucket"), "ASC");
    assert_eq!(tables["inbox_head"].partition, ["app", "user_id"]);
    assert_eq!(tables["members"].clustering, ["user_id"]);
}

#[test]
fn the_parser_reads_keys_and_orders() {
    let t = tokens("PRIMARY KEY ((app, user_id, bucket), seq)");
    let (parts, _) = list(&t[2..], 0);
    assert_eq!(parts[0].join(" "), "( app , user_id , bucket )");
    assert_eq!(parts[1], ["seq"]);
    let t = tokens("SELECT a, WRITETIME(b) FROM ks.t");
    assert_eq!(selected_columns(&t[1..t.len() - 2]), ["a", "b"]);
    let t = tokens("SELECT a FROM ks.t WHERE app = ? AND seq > ? LIMIT ?");
    assert_eq!(
        restrictions(&t),
        [("app".into(), "=".into()), ("seq".into(), ">".into())]
    );
}
