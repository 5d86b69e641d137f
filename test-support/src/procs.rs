//! Finding processes on this machine by an environment marker, whatever pid namespace a runtime
//! put them in (a sandboxed agent's own `$$` means nothing outside its sandbox), and the check
//! that a test needing bubblewrap has it.

/// Live processes (zombies left out) whose environment holds `name=value`. The test gives the
/// agent a unique value; its children inherit it, so this is the agent's whole tree.
pub fn with_env(name: &str, value: &str) -> Vec<u32> {
    let needle = format!("{name}={value}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
                && alive(*pid)
        })
        .collect()
}

/// Whether `pid` exists and is not a zombie (an orphan's zombie waits for an init that may
/// never reap it; it runs nothing).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Waits up to `limit` for `with_env(name, value)` to be empty; the survivors if it is not.
pub async fn gone_within(name: &str, value: &str, limit: std::time::Duration) -> Vec<u32> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let alive = with_env(name, value);
        if alive.is_empty() || std::time::Instant::now() >= deadline {
            return alive;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Whether bubblewrap can be used here. Missing under `CI`: panics (the test fails, never
/// skips). Missing otherwise: `false`, with the reason printed, and the test returns early.
pub fn bwrap_available() -> bool {
    let found = std::process::Command::new("bwrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "bubblewrap (bwrap) is required and CI is set: install the bubblewrap package (.ci/run does)"
    );
    eprintln!("skipped: bubblewrap (bwrap) is not installed and CI is unset");
    false
}
