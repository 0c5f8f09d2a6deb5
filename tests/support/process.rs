//! What the benchmarks read of the child process they measure.

/// (user + system CPU seconds, peak resident memory in MiB) of a live process, from /proc.
pub fn usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name; 100 Hz.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    (cpu, peak_kib / 1024.0)
}

/// One invocation of the function (process `pid`) under `runtime`: its wall time, the CPU
/// seconds the process spent meanwhile, and its answer. Panics, naming `label`, when the
/// function answers with an error or not within `within`.
pub async fn measured_invoke(
    runtime: &super::LoopbackRuntimeApi,
    pid: u32,
    event: serde_json::Value,
    within: std::time::Duration,
    label: &str,
) -> (std::time::Duration, f64, serde_json::Value) {
    let before = usage(pid).0;
    let begun = std::time::Instant::now();
    let Some(super::Answer::Response(summary)) = runtime.invoke_within(event, within).await else {
        panic!("{label}: the function answered with an error or not at all")
    };
    (begun.elapsed(), usage(pid).0 - before, summary)
}
