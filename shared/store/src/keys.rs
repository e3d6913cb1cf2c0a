//! Order-preserving byte keys. Ids never contain `\0`, so it separates components, and
//! sequence numbers are big-endian so byte order is numeric order.

/// Joins text components and an optional trailing sequence number into a key.
pub fn key(parts: &[&str], seq: Option<u64>) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 8);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(part.as_bytes());
    }
    if let Some(seq) = seq {
        k.push(0);
        k.extend_from_slice(&seq.to_be_bytes());
    }
    k
}

/// The prefix that every key starting with `parts` shares.
pub fn prefix(parts: &[&str]) -> Vec<u8> {
    let mut k = key(parts, None);
    k.push(0);
    k
}

/// The text components of a key made by `key`, and its trailing sequence number when
/// `with_seq`. `None` when the key is not of that shape.
pub fn split(k: &[u8], with_seq: bool) -> Option<(Vec<&str>, Option<u64>)> {
    let (text, seq) = if with_seq {
        let at = k.len().checked_sub(9)?;
        let (text, seq) = (&k[..at], &k[at..]);
        if seq[0] != 0 {
            return None;
        }
        (text, Some(u64::from_be_bytes(seq[1..].try_into().ok()?)))
    } else {
        (k, None)
    };
    let parts = text
        .split(|b| *b == 0)
        .map(std::str::from_utf8)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some((parts, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_keys_sort_numerically() {
        let a = key(&["app", "alice"], Some(2));
        let b = key(&["app", "alice"], Some(10));
        let c = key(&["app", "alice"], Some(256));
        assert!(a < b && b < c);
        assert!(a.starts_with(&prefix(&["app", "alice"])));
        assert!(!a.starts_with(&prefix(&["app", "alic"])));
    }

    #[test]
    fn keys_split_back_into_their_parts() {
        let k = key(&["app", "alice"], Some(256));
        assert_eq!(split(&k, true), Some((vec!["app", "alice"], Some(256))));
        let k = key(&["app", "alice", "bob"], None);
        assert_eq!(split(&k, false), Some((vec!["app", "alice", "bob"], None)));
        assert_eq!(split(b"short", true), None);
    }
}
