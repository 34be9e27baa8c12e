//! Who holds a lease, precisely enough to tell that a holder on this
//! machine has died: the boot, the process id and the process's start time.
//! A host name and a process id alone are not enough: after a reboot, or
//! once the id is reused, another process has them.

use std::path::Path;

/// This process: `<boot id>:<pid>:<start ticks>`; empty parts where the
/// system does not tell (then nobody can judge this process dead).
fn identity() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|b| b.trim().to_string())
        .unwrap_or_default();
    let pid = std::process::id();
    format!("{boot}:{pid}:{}", start_ticks(pid).unwrap_or_default())
}

/// The process's start time in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`), which differs between two processes that had the
/// same id.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: skip past its closing one.
    let after_name = stat.rsplit_once(')')?.1;
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// The name a worker of this process holds leases under:
/// `<actor>@<boot id>:<pid>:<start ticks>#<random>`.
pub fn lease_owner(actor: &str) -> String {
    format!("{actor}@{}#{:08x}", identity(), rand::random::<u32>())
}

/// Whether a lease owner is a process of this boot of this machine that no
/// longer runs (its id is free, or now names a process started later).
/// Owners on other machines, or from before a reboot, are left to their
/// lease's expiry.
pub fn owner_is_gone(owner: &str) -> bool {
    let Some((_, place)) = owner.rsplit_once('@') else {
        return false;
    };
    let place = place.split('#').next().unwrap_or(place);
    let mut parts = place.split(':');
    let (Some(boot), Some(pid), Some(ticks)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(pid), Ok(ticks)) = (pid.parse::<u32>(), ticks.parse::<u64>()) else {
        return false;
    };
    let this_boot = identity();
    if boot.is_empty() || !this_boot.starts_with(&format!("{boot}:")) || pid == std::process::id() {
        return false;
    }
    if !Path::new(&format!("/proc/{pid}")).exists() {
        return true;
    }
    start_ticks(pid).is_some_and(|now| now != ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not_the_same_process() {
        let me = lease_owner("cli:test");
        assert!(!owner_is_gone(&me));
        let pid = std::process::id();
        let boot = identity();
        let boot = boot.split(':').next().unwrap_or_default();
        // PID 1 exists, but it started at another time than this record says.
        let other = format!("cli:x@{boot}:1:{}#00000000", u64::MAX);
        assert!(owner_is_gone(&other) || start_ticks(1).is_none());
        // Another boot of this machine: not judged here.
        let earlier = format!("cli:x@not-this-boot:{pid}:1#00000000");
        assert!(!owner_is_gone(&earlier));
    }
}
