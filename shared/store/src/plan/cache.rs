//! The rows a projection writer last read or wrote, kept between its batches so `load` reads
//! the store only for rows it has not seen. Every row `RowKeys` names has one writer (a
//! projection, or one partition of it), so what that writer committed is what the store
//! holds until it commits again: the cache is valid as long as its owner is the only writer.
//! The owner drops it when that stops being certain: a failed commit (the store may hold
//! part of it, or none), a lease moved, a restart.
//!
//! Each table keeps two generations: lookups promote from the old one, and when the new one
//! reaches its capacity it becomes the old one and the previous old one is dropped. That
//! bounds the cache to twice the capacity per table at the cost of one hash lookup per miss,
//! without an LRU's bookkeeping on every hit. Timeline rows are not kept: a batch reads one
//! only to annotate it (a recall, an edit), while it writes one per message.

use super::{Changes, Loaded, RowKeys};
use rustc_hash::FxHashMap;
use std::hash::Hash;

/// Rows per table and generation when the configuration does not say. Full (every table, both
/// generations) that is a few hundred thousand small rows: tens of megabytes.
pub const DEFAULT_CAPACITY: usize = 32 * 1024;

/// Two generations of one table's rows.
#[derive(Debug)]
struct Generations<K, V> {
    young: FxHashMap<K, V>,
    old: FxHashMap<K, V>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> Generations<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            young: FxHashMap::default(),
            old: FxHashMap::default(),
            capacity,
        }
    }

    /// The row under `key`, promoted to the young generation.
    fn get(&mut self, key: K) -> Option<(K, V)> {
        if let Some(v) = self.young.get(&key) {
            return Some((key, v.clone()));
        }
        let v = self.old.remove(&key)?;
        self.put(key.clone(), v.clone());
        Some((key, v))
    }

    fn put(&mut self, key: K, value: V) {
        if self.capacity == 0 {
            return;
        }
        if self.young.len() >= self.capacity && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
    }

    fn extend(&mut self, rows: FxHashMap<K, V>) {
        for (k, v) in rows {
            self.put(k, v);
        }
    }

    fn clear(&mut self) {
        self.young = FxHashMap::default();
        self.old = FxHashMap::default();
    }

    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

/// A projection writer's rows, by table (see the module documentation).
#[derive(Debug)]
pub struct RowCache {
    heads: Generations<super::keys::UserKey, super::Head>,
    convs: Generations<super::keys::ConvKey, crate::model::Conversation>,
    users: Generations<super::keys::UserKey, crate::model::UserRow>,
    relations: Generations<super::keys::RelationKey, crate::model::Relation>,
    cleared: Generations<super::keys::ConvKey, u64>,
    reaction_marks: Generations<super::keys::ReactionMarkKey, crate::annotations::ReactionMark>,
    /// A commit was begun and has not been absorbed: it failed, or its future was dropped.
    uncertain: bool,
}

impl RowCache {
    /// A cache of up to `capacity` rows per table and generation; 0 keeps nothing.
    pub fn new(capacity: usize) -> Self {
        Self {
            heads: Generations::new(capacity),
            convs: Generations::new(capacity),
            users: Generations::new(capacity),
            relations: Generations::new(capacity),
            cleared: Generations::new(capacity),
            reaction_marks: Generations::new(capacity),
            uncertain: false,
        }
    }

    /// Splits `keys` into the rows the cache holds and the keys left to load from the store.
    /// Timeline keys are always left to the store. After a commit that was begun and not
    /// absorbed, the cache is cleared first.
    pub fn split<'w>(&mut self, keys: &RowKeys<'w>) -> (Loaded, RowKeys<'w>) {
        if self.uncertain {
            self.clear();
        }
        if self.heads.capacity == 0 {
            return (Loaded::default(), keys.clone());
        }
        let mut found = Loaded::default();
        let mut missing = RowKeys {
            timeline: keys.timeline.clone(),
            ..RowKeys::default()
        };
        for &(app, user) in &keys.heads {
            match self.heads.get((app.clone(), user.clone())) {
                Some((k, v)) => {
                    found.heads.insert(k, v);
                }
                None => {
                    missing.heads.insert((app, user));
                }
            }
        }
        for &(app, user, conv) in &keys.convs {
            match self.convs.get((app.clone(), user.clone(), conv.clone())) {
                Some((k, v)) => {
                    found.convs.insert(k, v);
                }
                None => {
                    missing.convs.insert((app, user, conv));
                }
            }
        }
        for &(app, user) in &keys.users {
            match self.users.get((app.clone(), user.clone())) {
                Some((k, v)) => {
                    found.users.insert(k, v);
                }
                None => {
                    missing.users.insert((app, user));
                }
            }
        }
        for &(app, user, other) in &keys.relations {
            match self
                .relations
                .get((app.clone(), user.clone(), other.clone()))
            {
                Some((k, v)) => {
                    found.relations.insert(k, v);
                }
                None => {
                    missing.relations.insert((app, user, other));
                }
            }
        }
        for &(app, user, conv) in &keys.cleared {
            match self.cleared.get((app.clone(), user.clone(), conv.clone())) {
                Some((k, v)) => {
                    found.cleared.insert(k, v);
                }
                None => {
                    missing.cleared.insert((app, user, conv));
                }
            }
        }
        for key in &keys.reaction_marks {
            match self.reaction_marks.get(key.clone()) {
                Some((k, v)) => {
                    found.reaction_marks.insert(k, v);
                }
                None => {
                    missing.reaction_marks.insert(key.clone());
                }
            }
        }
        (found, missing)
    }

    /// Marks a commit begun: until `absorb` follows, the store may hold it, part of it or
    /// none of it, and the next `split` starts from an empty cache.
    pub fn begin_commit(&mut self) {
        self.uncertain = true;
    }

    /// Keeps the rows a committed batch read (`loaded`) and then those it wrote (`changes`).
    /// Call only once the commit succeeded.
    pub fn absorb(&mut self, loaded: Loaded, changes: &mut Changes) {
        self.uncertain = false;
        self.heads.extend(loaded.heads);
        self.convs.extend(loaded.convs);
        self.users.extend(loaded.users);
        self.relations.extend(loaded.relations);
        self.cleared.extend(loaded.cleared);
        self.reaction_marks.extend(loaded.reaction_marks);
        self.heads.extend(std::mem::take(&mut changes.heads));
        self.convs.extend(std::mem::take(&mut changes.convs));
        for (k, change) in std::mem::take(&mut changes.users) {
            self.users.put(k, change.row);
        }
        self.relations
            .extend(std::mem::take(&mut changes.relations));
        self.cleared.extend(std::mem::take(&mut changes.cleared));
        self.reaction_marks
            .extend(std::mem::take(&mut changes.reaction_marks));
    }

    /// Forgets every row: the store may no longer hold what the cache says.
    pub fn clear(&mut self) {
        self.uncertain = false;
        self.heads.clear();
        self.convs.clear();
        self.users.clear();
        self.relations.clear();
        self.cleared.clear();
        self.reaction_marks.clear();
    }

    /// Rows held, over every table and both generations.
    pub fn len(&self) -> usize {
        self.heads.len()
            + self.convs.len()
            + self.users.len()
            + self.relations.len()
            + self.cleared.len()
            + self.reaction_marks.len()
    }

    /// Whether the cache holds no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Head, plan};
    use crate::write::Write;
    use tidings_domain::{AppId, UserId};

    fn user(name: &str) -> (AppId, UserId) {
        (AppId::parse("app").unwrap(), UserId::parse(name).unwrap())
    }

    fn head(seq: u64) -> Head {
        Head { seq, cursor: seq }
    }

    #[test]
    fn a_full_generation_ages_and_the_oldest_is_dropped() {
        let mut g = Generations::new(2);
        g.put(1, "a");
        g.put(2, "b");
        g.put(3, "c"); // 1 and 2 age
        assert_eq!(g.len(), 3);
        assert_eq!(g.get(1), Some((1, "a"))); // promoted: young is {3, 1}
        g.put(4, "d"); // {3, 1} age; 2 is dropped
        assert_eq!(g.get(2), None);
        assert_eq!(g.get(3), Some((3, "c")));
        assert_eq!(g.get(4), Some((4, "d")));
        assert!(g.len() <= 4);
    }

    #[test]
    fn rewriting_a_young_row_does_not_age_the_generation() {
        let mut g = Generations::new(2);
        g.put(1, "a");
        g.put(2, "b");
        g.put(2, "B");
        assert!(g.old.is_empty());
        assert_eq!(g.get(2), Some((2, "B")));
    }

    #[test]
    fn split_answers_what_it_holds_and_leaves_the_rest_to_the_store() {
        let (app, alice) = user("alice");
        let (_, bob) = user("bob");
        let mut cache = RowCache::new(8);
        let mut changes = Changes::default();
        changes.heads.insert((app.clone(), alice.clone()), head(5));
        cache.begin_commit();
        cache.absorb(Loaded::default(), &mut changes);

        let writes = [&alice, &bob].map(|u| Write::Deliver {
            app: app.clone(),
            user: u.clone(),
            ts: 0,
            item: crate::model::EntryItem::Cleared(crate::model::ClearedNotice {
                conv: tidings_domain::ConvId::group(&tidings_domain::GroupId::parse("g").unwrap()),
                up_to: 1,
            }),
            cursor: 9,
        });
        let keys = RowKeys::of(&writes);
        let (found, missing) = cache.split(&keys);
        assert_eq!(
            found.heads.get(&(app.clone(), alice.clone())),
            Some(&head(5))
        );
        assert_eq!(missing.heads.len(), 1);
        assert!(missing.heads.contains(&(&app, &bob)));
        // The fold over the cached head numbers alice's entry after it.
        let planned = plan(&found, 9, writes.to_vec());
        assert_eq!(planned.heads[&(app.clone(), alice.clone())].seq, 6);
    }

    #[test]
    fn a_commit_begun_and_never_absorbed_empties_the_cache() {
        let (app, alice) = user("alice");
        let mut cache = RowCache::new(8);
        let mut changes = Changes::default();
        changes.heads.insert((app.clone(), alice.clone()), head(5));
        cache.begin_commit();
        cache.absorb(Loaded::default(), &mut changes);
        assert_eq!(cache.len(), 1);

        cache.begin_commit(); // and the commit fails, or its future is dropped
        let keys = RowKeys::default();
        let _ = cache.split(&keys);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_cache_of_no_rows_keeps_nothing() {
        let (app, alice) = user("alice");
        let mut cache = RowCache::new(0);
        let mut changes = Changes::default();
        changes.heads.insert((app, alice), head(5));
        cache.begin_commit();
        cache.absorb(Loaded::default(), &mut changes);
        assert!(cache.is_empty());
    }
}
