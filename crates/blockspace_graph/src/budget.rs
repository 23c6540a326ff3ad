//! The memory budget of a whole run, not of one buffer.
//!
//! A run keeps every block's outputs (the viewer shows them, and dependants read them), and a
//! convolution needs a workspace while it runs: its packed or transformed filter and partial
//! sums, estimated as its largest input, and with `data_format: NCDHW` also the NDHWC copies
//! of its operands and the NCDHW copy of its result. [`plan_memory`] adds these up in
//! evaluation order from the checked shapes, before anything is allocated, and names the
//! block that pushes the total over the budget, so a page that cannot fit is refused whole.
//!
//! The plan is the check before a run; the run itself counts. Every block's buffers are
//! reserved in the executor's [`MemoryLedger`](crate::kernels::MemoryLedger) before they are
//! allocated, and results stay counted while anything holds them (so a re-run counts the old
//! results it has not replaced yet, see [`Executor::run_within`](crate::Executor::run_within)).
//! A buffer that would take the live total over the budget fails its block with the sizes,
//! instead of the allocator aborting. Not counted: per-thread scratch of the kernels (tiles of
//! at most a few hundred KiB per thread) and the page itself.
//!
//! The default budget is [`DEFAULT_PERCENT`] % of the smallest of the machine's physical
//! memory, the cgroup memory limit (v2 `memory.max`, or v1 `memory.limit_in_bytes`, of this
//! process's cgroup and its ancestors) and the address-space limit (`RLIMIT_AS`), read from
//! `/proc` and `/sys` ([`MachineMemory::detect`]). `--memory-limit SIZE` sets it
//! ([`parse_size`]: `4GiB`, `512MB`, `1e9`).

use std::path::Path;

use crate::check::PageCheck;
use crate::ids::BlockId;
use crate::ops::Registry;
use crate::page::Page;

/// The share of the machine's smallest memory limit a run may use by default.
pub const DEFAULT_PERCENT: u64 = 75;

/// What the machine allows this process, as far as it can be read (`None`: not known or no
/// limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MachineMemory {
    /// Physical memory (`MemTotal` of `/proc/meminfo`).
    pub physical: Option<u64>,
    /// The cgroup memory limit.
    pub cgroup: Option<u64>,
    /// The address-space limit (`RLIMIT_AS`).
    pub address_space: Option<u64>,
}

impl MachineMemory {
    /// Reads the limits of this machine and process.
    #[must_use]
    pub fn detect() -> Self {
        Self {
            physical: read(Path::new("/proc/meminfo")).and_then(|t| meminfo_total(&t)),
            cgroup: cgroup_limit(),
            address_space: read(Path::new("/proc/self/limits")).and_then(|t| rlimit_as(&t)),
        }
    }

    /// The smallest known limit.
    #[must_use]
    pub fn smallest(&self) -> Option<u64> {
        [self.physical, self.cgroup, self.address_space]
            .into_iter()
            .flatten()
            .min()
    }

    /// The default budget: [`DEFAULT_PERCENT`] % of the smallest limit (4 GiB when none can be
    /// read).
    #[must_use]
    pub fn default_budget(&self) -> u64 {
        self.smallest()
            .map_or(4 << 30, |m| m / 100 * DEFAULT_PERCENT)
    }

    /// How the default was found, for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        let show = |v: Option<u64>| v.map_or_else(|| "none".to_owned(), format_size);
        format!(
            "{DEFAULT_PERCENT} % of the smallest of physical memory {}, cgroup limit {}, address-space limit {}",
            show(self.physical),
            show(self.cgroup),
            show(self.address_space)
        )
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

fn rlimit_as(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    // "Max address space  <soft>  <hard>  bytes": the soft limit is the one in force.
    line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A cgroup limit value: a number of bytes, `max` (none), or v1's "unlimited" (near `i64::MAX`).
fn cgroup_value(text: &str) -> Option<u64> {
    let v: u64 = text.trim().parse().ok()?;
    (v < (1 << 62)).then_some(v)
}

/// The smallest memory limit of this process's cgroup and its ancestors (v2, then v1).
fn cgroup_limit() -> Option<u64> {
    let cgroups = read(Path::new("/proc/self/cgroup"))?;
    let mut limits = Vec::new();
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let (root, file) = if controllers.is_empty() {
            (Path::new("/sys/fs/cgroup").to_path_buf(), "memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                Path::new("/sys/fs/cgroup/memory").to_path_buf(),
                "memory.limit_in_bytes",
            )
        } else {
            continue;
        };
        let mut dir = root.join(path.trim_start_matches('/'));
        loop {
            if let Some(v) = read(&dir.join(file)).and_then(|t| cgroup_value(&t)) {
                limits.push(v);
            }
            if dir == root || !dir.pop() || !dir.starts_with(&root) {
                break;
            }
        }
    }
    limits.into_iter().min()
}

/// Parses a size: a number with an optional unit `B`, `KB`/`MB`/`GB`/`TB` (powers of 1000),
/// `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024); `K`, `M`, `G`, `T` alone mean the binary units.
///
/// # Errors
/// A message quoting (at most 80 characters of) the text and showing valid forms.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '+'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || {
        let shown: String = text.chars().take(80).collect();
        format!("{shown:?} is not a size; write e.g. 4GiB, 512MiB, 2GB or a number of bytes")
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024f64.powi(2),
        "g" | "gib" => 1024f64.powi(3),
        "t" | "tib" => 1024f64.powi(4),
        _ => return Err(bad()),
    };
    let bytes = n * scale;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= 2f64.powi(63) {
        return Err(format!(
            "{} is out of range; give a size from 1 byte to 8 EiB (e.g. 4GiB)",
            text.chars().take(80).collect::<String>()
        ));
    }
    Ok(bytes as u64)
}

/// `bytes` for people: `512 B`, `3.00 KiB`, `1.50 GiB`.
#[must_use]
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.2} {}", UNITS[i])
    }
}

/// What one block adds to a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMemory {
    /// The block.
    pub block: BlockId,
    /// Its name.
    pub name: String,
    /// Bytes of its outputs (kept for the rest of the run).
    pub outputs: u64,
    /// Bytes of workspace while it runs (freed after).
    pub workspace: u64,
    /// Bytes live while it runs: every output so far, its own and its workspace.
    pub peak: u64,
}

/// The memory a page's run needs, against a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPlan {
    /// The budget checked against.
    pub budget: u64,
    /// Per block, in evaluation order (blocks with problems are left out).
    pub blocks: Vec<BlockMemory>,
    /// The largest number of bytes live at once.
    pub peak: u64,
    /// The first block whose run would take the total over the budget.
    pub over: Option<BlockMemory>,
}

impl MemoryPlan {
    /// Whether the run fits.
    #[must_use]
    pub fn fits(&self) -> bool {
        self.over.is_none()
    }

    /// What is over and how to fix it; `None` when the run fits.
    #[must_use]
    pub fn refusal(&self) -> Option<String> {
        let over = self.over.as_ref()?;
        let mut largest: Vec<&BlockMemory> = self.blocks.iter().collect();
        largest.sort_by_key(|b| std::cmp::Reverse(b.outputs));
        let largest: Vec<String> = largest
            .iter()
            .take(3)
            .map(|b| format!("{:?} {}", b.name, format_size(b.outputs)))
            .collect();
        let suggest = if self.peak < 1 << 30 {
            format!("{}MiB", self.peak.div_ceil(1 << 20))
        } else {
            format!("{}GiB", self.peak.div_ceil(1 << 30))
        };
        Some(format!(
            "the run needs {} at block {:?} (its outputs {}, workspace {}, {} kept from the blocks before it), over the memory budget of {}; make the largest tensors smaller ({}) or, if this machine has the memory, raise the budget with --memory-limit (e.g. --memory-limit {})",
            format_size(over.peak),
            over.name,
            format_size(over.outputs),
            format_size(over.workspace),
            format_size(over.peak - over.outputs - over.workspace),
            format_size(self.budget),
            largest.join(", "),
            suggest,
        ))
    }
}

/// Adds up what a run of `page` keeps live, block by block in the order of `check` (see the
/// module docs), against `budget` bytes.
#[must_use]
pub fn plan_memory(reg: &Registry, page: &Page, check: &PageCheck, budget: u64) -> MemoryPlan {
    let index = page.inputs_index();
    let mut kept = 0u64;
    let mut plan = MemoryPlan {
        budget,
        blocks: Vec::new(),
        peak: 0,
        over: None,
    };
    for &id in &check.order {
        let (Some(block), Some(Ok(metas))) = (page.block(id), check.block(id)) else {
            continue;
        };
        let Some(d) = reg.get(&block.type_id) else {
            continue;
        };
        let bytes = |m: &crate::tensor::TensorMeta| m.elements().saturating_mul(m.dtype.size_of());
        let outputs = metas.iter().map(bytes).fold(0u64, u64::saturating_add);
        let workspace = if d.category == "Convolution" {
            let inputs: Vec<u64> = index
                .inputs_of(id, d.inputs.len())
                .into_iter()
                .flatten()
                .filter_map(|port| check.output(port))
                .map(bytes)
                .collect();
            let largest = inputs.iter().copied().max().unwrap_or(0);
            let ncdhw = block.attrs.get("data_format").and_then(|v| v.as_str()) == Some("NCDHW");
            if ncdhw {
                // NDHWC copies of the operands and the NCDHW copy of the result.
                let copies = inputs.iter().fold(outputs, |a, &b| a.saturating_add(b));
                largest.saturating_add(copies)
            } else {
                largest
            }
        } else {
            0
        };
        let peak = kept.saturating_add(outputs).saturating_add(workspace);
        kept = kept.saturating_add(outputs);
        let entry = BlockMemory {
            block: id,
            name: block.name.clone(),
            outputs,
            workspace,
            peak,
        };
        plan.peak = plan.peak.max(peak);
        if peak > budget && plan.over.is_none() {
            plan.over = Some(entry.clone());
        }
        plan.blocks.push(entry);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("4 GiB"), Ok(4 << 30));
        assert_eq!(parse_size("512MB"), Ok(512_000_000));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("1e9"), Ok(1_000_000_000));
        assert_eq!(parse_size("100"), Ok(100));
        for bad in ["", "GiB", "4 parsecs", "-1GiB", "0", "1e30GiB", "nan"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains("size") || e.contains("range"), "{bad}: {e}");
        }
        let long = "x".repeat(10_000);
        assert!(
            parse_size(&long).unwrap_err().len() < 200,
            "quotes are bounded"
        );
    }

    #[test]
    fn sizes_format_for_people() {
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(3 << 10), "3.00 KiB");
        assert_eq!(format_size(3 << 29), "1.50 GiB");
    }

    #[test]
    fn proc_and_cgroup_texts_parse() {
        assert_eq!(
            meminfo_total("MemTotal:       16384 kB\nMemFree: 1 kB\n"),
            Some(16384 * 1024)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax address space         unlimited            unlimited            bytes\n";
        assert_eq!(rlimit_as(limits), None);
        let limits = "Max address space         8589934592           unlimited            bytes\n";
        assert_eq!(rlimit_as(limits), Some(8 << 30));
        assert_eq!(cgroup_value("max\n"), None);
        assert_eq!(cgroup_value("9223372036854771712\n"), None);
        assert_eq!(cgroup_value("2147483648\n"), Some(2 << 30));
        let m = MachineMemory {
            physical: Some(16 << 30),
            cgroup: Some(4 << 30),
            address_space: None,
        };
        assert_eq!(m.smallest(), Some(4 << 30));
        assert_eq!(m.default_budget(), (4 << 30) / 100 * DEFAULT_PERCENT);
        assert!(
            m.describe().contains("cgroup limit 4.00 GiB"),
            "{}",
            m.describe()
        );
        let here = MachineMemory::detect();
        assert!(
            here.physical.is_some(),
            "/proc/meminfo is readable on Linux"
        );
    }
}
