//! The CPU time a process has used, from /proc, to put a cost on one phase of a benchmark.

/// Clock ticks per second of /proc's times: Linux's `USER_HZ`, 100 on every architecture it
/// exports to user space.
const USER_HZ: u64 = 100;

/// User plus system CPU time `pid` has used so far, in milliseconds (10 ms resolution).
pub fn cpu_ms(pid: u32) -> anyhow::Result<u64> {
    parse(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)
}

/// The CPU milliseconds of a `/proc/PID/stat` line.
fn parse(stat: &str) -> anyhow::Result<u64> {
    // The command name (field 2) may hold spaces and parentheses; the fields after its last
    // `)` are plain: the state (field 3) first, utime and stime (fields 14 and 15) at 11, 12.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow::anyhow!("unreadable /proc stat line"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        let field = fields
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("short /proc stat line"))?;
        Ok(field.parse()?)
    };
    Ok((ticks(11)? + ticks(12)?) * 1000 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_read_past_a_name_with_spaces_and_parentheses() {
        let line = "4242 (tidings (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 30 0 0 20 0 9";
        assert_eq!(parse(line).unwrap(), 2_800);
        assert!(parse("4242 (cut").is_err());
        assert!(parse("4242 (short) S 1 2").is_err());
    }

    #[test]
    fn this_process_can_be_read() {
        cpu_ms(std::process::id()).unwrap();
    }
}
