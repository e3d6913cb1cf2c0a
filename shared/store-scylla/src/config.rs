//! Connection settings of the Scylla adapter.

use serde::Deserialize;
use std::fmt;
use std::str::FromStr;

/// Where the Scylla read models live and how they are read and written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ScyllaConfig {
    /// Contact points: a comma-separated `host:port` list (`SCYLLA_URI`).
    pub uri: String,
    /// The keyspace holding every table.
    pub keyspace: String,
    /// Consistency of every statement. Inbox numbering reads the head it then writes, so
    /// reads and writes must overlap (LOCAL_QUORUM on both, the default).
    pub consistency: ConsistencyLevel,
    /// The keyspace's replication map, as CQL, filled into `0001_keyspace.cql`.
    pub replication: String,
}

/// Replication for a production cluster: three replicas in each datacenter.
pub const DEFAULT_REPLICATION: &str =
    "{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}";

impl Default for ScyllaConfig {
    fn default() -> Self {
        Self {
            uri: "127.0.0.1:9042".into(),
            keyspace: "tidings".into(),
            consistency: ConsistencyLevel::default(),
            replication: DEFAULT_REPLICATION.into(),
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ScyllaConfig {
    /// The contact points, trimmed, without empty entries.
    pub fn known_nodes(&self) -> Result<Vec<String>, ConfigError> {
        let nodes: Vec<String> = self
            .uri
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        if nodes.is_empty() {
            return Err(ConfigError(format!(
                "scylla uri {:?} names no host:port",
                self.uri
            )));
        }
        Ok(nodes)
    }

    /// Checks what is spliced into CQL text: the keyspace name and the replication map.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.known_nodes()?;
        validate_keyspace(&self.keyspace)?;
        validate_replication(&self.replication)
    }
}

/// A keyspace name is spliced into statements, so it must be a plain CQL identifier.
pub fn validate_keyspace(name: &str) -> Result<(), ConfigError> {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 48;
    if plain {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "scylla keyspace {name:?} must be a letter then up to 47 letters, digits or _"
        )))
    }
}

/// The replication setting is a CQL map literal and nothing else.
pub fn validate_replication(map: &str) -> Result<(), ConfigError> {
    let map = map.trim();
    let literal = map.starts_with('{')
        && map.ends_with('}')
        && map.contains("'class'")
        && !map.contains(';')
        && !map.contains("--");
    if literal {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "scylla replication {map:?} must be a CQL map such as {DEFAULT_REPLICATION}"
        )))
    }
}

/// The consistency levels a read-model statement may use (ANY and the serial levels cannot
/// serve both reads and writes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum ConsistencyLevel {
    One,
    Two,
    Three,
    Quorum,
    All,
    #[default]
    LocalQuorum,
    EachQuorum,
    LocalOne,
}

const LEVELS: [(&str, ConsistencyLevel); 8] = [
    ("ONE", ConsistencyLevel::One),
    ("TWO", ConsistencyLevel::Two),
    ("THREE", ConsistencyLevel::Three),
    ("QUORUM", ConsistencyLevel::Quorum),
    ("ALL", ConsistencyLevel::All),
    ("LOCAL_QUORUM", ConsistencyLevel::LocalQuorum),
    ("EACH_QUORUM", ConsistencyLevel::EachQuorum),
    ("LOCAL_ONE", ConsistencyLevel::LocalOne),
];

impl FromStr for ConsistencyLevel {
    type Err = ConfigError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let wanted = raw.trim().to_ascii_uppercase();
        LEVELS
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, level)| *level)
            .ok_or_else(|| {
                let names: Vec<&str> = LEVELS.iter().map(|(name, _)| *name).collect();
                ConfigError(format!(
                    "consistency {raw:?} is not one of {}",
                    names.join(", ")
                ))
            })
    }
}

impl TryFrom<String> for ConsistencyLevel {
    type Error = ConfigError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl fmt::Display for ConsistencyLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = LEVELS
            .iter()
            .find(|(_, level)| level == self)
            .map_or("?", |(name, _)| name);
        f.write_str(name)
    }
}

impl From<ConsistencyLevel> for scylla::statement::Consistency {
    fn from(level: ConsistencyLevel) -> Self {
        use scylla::statement::Consistency as C;
        match level {
            ConsistencyLevel::One => C::One,
            ConsistencyLevel::Two => C::Two,
            ConsistencyLevel::Three => C::Three,
            ConsistencyLevel::Quorum => C::Quorum,
            ConsistencyLevel::All => C::All,
            ConsistencyLevel::LocalQuorum => C::LocalQuorum,
            ConsistencyLevel::EachQuorum => C::EachQuorum,
            ConsistencyLevel::LocalOne => C::LocalOne,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistency_names_round_trip_and_default_to_local_quorum() {
        for (name, level) in LEVELS {
            assert_eq!(name.parse::<ConsistencyLevel>().unwrap(), level);
            assert_eq!(level.to_string(), name);
        }
        assert_eq!(
            "local_quorum".parse::<ConsistencyLevel>().unwrap(),
            ConsistencyLevel::LocalQuorum
        );
        assert_eq!(ConsistencyLevel::default(), ConsistencyLevel::LocalQuorum);
        assert!("ANY".parse::<ConsistencyLevel>().is_err());
        assert!("SERIAL".parse::<ConsistencyLevel>().is_err());
    }

    #[test]
    fn config_deserializes_over_defaults() {
        #[derive(Deserialize)]
        struct File {
            scylla: ScyllaConfig,
        }
        let file: File = serde_json::from_str(
            r#"{"scylla": {"uri": "a:9042, b:9042", "consistency": "quorum"}}"#,
        )
        .unwrap();
        assert_eq!(file.scylla.known_nodes().unwrap(), ["a:9042", "b:9042"]);
        assert_eq!(file.scylla.consistency, ConsistencyLevel::Quorum);
        assert_eq!(file.scylla.keyspace, "tidings");
        assert_eq!(file.scylla.replication, DEFAULT_REPLICATION);
        file.scylla.validate().unwrap();
    }

    #[test]
    fn rejects_what_cannot_be_spliced_into_cql() {
        for bad in ["", "1tidings", "tid-ings", "a;DROP", &"k".repeat(49)] {
            assert!(validate_keyspace(bad).is_err(), "{bad:?}");
        }
        for good in ["tidings", "tidings_test_0af3", "T1"] {
            validate_keyspace(good).unwrap();
        }
        validate_replication("{'class': 'SimpleStrategy', 'replication_factor': 1}").unwrap();
        for bad in [
            "SimpleStrategy",
            "{'replication_factor': 1}",
            "{'class': 'SimpleStrategy'}; DROP KEYSPACE x; {'class': 'x'}",
        ] {
            assert!(validate_replication(bad).is_err(), "{bad:?}");
        }
        let empty = ScyllaConfig {
            uri: " , ".into(),
            ..ScyllaConfig::default()
        };
        assert!(empty.validate().is_err());
    }
}
