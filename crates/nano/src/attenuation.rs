//! Attenuation: a child nanoprocess may hold only a subset of what its parent holds.
//! Checked on the whole manifest before anything runs; every violation is reported.

use crate::manifest::{ClockGrant, Manifest, Nanoprocess, Problem, RandomGrant};
use std::path::PathBuf;

/// Resolves a granted host directory for comparison: symlinks and `..` resolved, so a
/// child cannot name its way out of a parent's directory.
fn resolve(path: &std::path::Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(path).map_err(|e| format!("host directory `{}`: {e}", path.display()))
}

/// (key, child's limit, parent's limit, how to show a value).
type LimitCheck = (&'static str, Option<u128>, Option<u128>, fn(u128) -> String);

/// Every way a child's grants exceed its parent's (and unusable host directories).
pub fn check_attenuation(manifest: &Manifest) -> Vec<Problem> {
    let mut problems = Vec::new();
    let file = manifest.file.display().to_string();
    let mut problem = |np: &Nanoprocess, key: String, message: String| {
        problems.push(Problem {
            file: file.clone(),
            nanoprocess: Some(np.name.clone()),
            key,
            message,
        })
    };
    for np in manifest.nanoprocesses.values() {
        // Every granted directory must exist and be a directory, root or not.
        let mut resolved = Vec::new();
        for (i, d) in np.grants.dirs.iter().enumerate() {
            match resolve(&d.host) {
                Ok(p) if p.is_dir() => resolved.push(Some(p)),
                Ok(p) => {
                    problem(
                        np,
                        format!("grants.dirs[{i}].host"),
                        format!("`{}` is not a directory", p.display()),
                    );
                    resolved.push(None);
                }
                Err(e) => {
                    problem(np, format!("grants.dirs[{i}].host"), e);
                    resolved.push(None);
                }
            }
        }
        let Some(parent) = np
            .parent
            .as_ref()
            .and_then(|p| manifest.nanoprocesses.get(p))
        else {
            continue;
        };
        let pname = &parent.name;
        let parent_dirs: Vec<(PathBuf, &crate::manifest::DirGrant)> = parent
            .grants
            .dirs
            .iter()
            .filter_map(|d| resolve(&d.host).ok().map(|p| (p, d)))
            .collect();
        for (i, (d, r)) in np.grants.dirs.iter().zip(&resolved).enumerate() {
            let Some(r) = r else { continue };
            let covering = parent_dirs
                .iter()
                .filter(|(pp, _)| r.starts_with(pp))
                .max_by_key(|(_, pd)| pd.mode);
            match covering {
                None => problem(
                    np,
                    format!("grants.dirs[{i}]"),
                    format!(
                        "`{}` ({}) is not inside any directory of parent `{pname}` ({})",
                        d.host_text,
                        d.mode,
                        describe_dirs(parent)
                    ),
                ),
                Some((_, pd)) if d.mode > pd.mode => problem(
                    np,
                    format!("grants.dirs[{i}].mode"),
                    format!(
                        "`{}` is granted {} but parent `{pname}` holds `{}` only {}",
                        d.host_text, d.mode, pd.host_text, pd.mode
                    ),
                ),
                Some(_) => {}
            }
        }
        for (k, v) in &np.grants.env {
            match parent.grants.env.get(k) {
                None => problem(
                    np,
                    format!("grants.env.{k}"),
                    format!("parent `{pname}` holds no variable `{k}`"),
                ),
                Some(pv) if pv != v => problem(
                    np,
                    format!("grants.env.{k}"),
                    format!("value differs from parent `{pname}`'s (`{k}={pv}`)"),
                ),
                Some(_) => {}
            }
        }
        // Virtual clocks and seeded randomness reveal nothing, so they are always allowed.
        if np.grants.clock == ClockGrant::Real && parent.grants.clock != ClockGrant::Real {
            problem(
                np,
                "grants.clock".into(),
                format!("`real` but parent `{pname}` has no real clock"),
            );
        }
        if np.grants.random == RandomGrant::Os && parent.grants.random != RandomGrant::Os {
            problem(
                np,
                "grants.random".into(),
                format!("`os` but parent `{pname}` has no OS randomness"),
            );
        }
        for (stream, child, par) in [
            ("stdin", np.grants.stdio.stdin, parent.grants.stdio.stdin),
            ("stdout", np.grants.stdio.stdout, parent.grants.stdio.stdout),
            ("stderr", np.grants.stdio.stderr, parent.grants.stdio.stderr),
        ] {
            if child && !par {
                problem(
                    np,
                    format!("grants.stdio.{stream}"),
                    format!("`inherit` but parent `{pname}` does not inherit {stream}"),
                );
            }
        }
        // Limits: a child's limit may not exceed its parent's (a parent with a limit bounds
        // an unlimited child too).
        let checks: [LimitCheck; 3] = [
            (
                "limits.memory",
                np.limits.memory.map(u128::from),
                parent.limits.memory.map(u128::from),
                |v| format!("{v} bytes"),
            ),
            (
                "limits.fuel",
                np.limits.fuel.map(u128::from),
                parent.limits.fuel.map(u128::from),
                |v| format!("{v}"),
            ),
            (
                "limits.timeout",
                np.limits.timeout.map(|d| d.as_nanos()),
                parent.limits.timeout.map(|d| d.as_nanos()),
                |v| format!("{:?}", std::time::Duration::from_nanos(v as u64)),
            ),
        ];
        for (key, child, par, show) in checks {
            match (child, par) {
                (Some(c), Some(p)) if c > p => problem(
                    np,
                    key.into(),
                    format!("{} exceeds parent `{pname}`'s {}", show(c), show(p)),
                ),
                (None, Some(p)) => problem(
                    np,
                    key.into(),
                    format!("unlimited, but parent `{pname}` is limited to {}", show(p)),
                ),
                _ => {}
            }
        }
    }
    problems
}

fn describe_dirs(np: &Nanoprocess) -> String {
    if np.grants.dirs.is_empty() {
        return "no directories".into();
    }
    let v: Vec<String> = np
        .grants
        .dirs
        .iter()
        .map(|d| format!("{} {}", d.host_text, d.mode))
        .collect();
    v.join(", ")
}

/// The capability tree, root first: who holds what, inherited from whom.
pub fn capability_tree(manifest: &Manifest) -> String {
    let mut out = String::new();
    let roots: Vec<&Nanoprocess> = manifest
        .nanoprocesses
        .values()
        .filter(|n| n.parent.is_none())
        .collect();
    for root in roots {
        tree_node(manifest, root, 0, &mut out, &mut Vec::new());
    }
    out
}

fn tree_node(
    manifest: &Manifest,
    np: &Nanoprocess,
    depth: usize,
    out: &mut String,
    seen: &mut Vec<String>,
) {
    if seen.contains(&np.name) {
        return;
    }
    seen.push(np.name.clone());
    let pad = "  ".repeat(depth);
    let from = match &np.parent {
        Some(p) => format!(", attenuated from `{p}`"),
        None => String::new(),
    };
    out.push_str(&format!(
        "{pad}{} ({}{from})\n",
        np.name,
        np.module.display()
    ));
    let g = &np.grants;
    let mut caps = Vec::new();
    for d in &g.dirs {
        caps.push(format!("dir {} -> {} ({})", d.host_text, d.guest, d.mode));
    }
    for (k, v) in &g.env {
        caps.push(format!("env {k}={v}"));
    }
    match &g.clock {
        ClockGrant::None => {}
        ClockGrant::Real => caps.push("clock real".into()),
        ClockGrant::Fixed { start_ns, step } => {
            caps.push(format!("clock fixed at {start_ns} ns, step {step:?}"))
        }
    }
    match &g.random {
        RandomGrant::None => {}
        RandomGrant::Os => caps.push("random os".into()),
        RandomGrant::Seed(s) => caps.push(format!("random seed {s}")),
    }
    for (name, on) in [
        ("stdin", g.stdio.stdin),
        ("stdout", g.stdio.stdout),
        ("stderr", g.stdio.stderr),
    ] {
        if on {
            caps.push(format!("{name} inherited"));
        }
    }
    if caps.is_empty() {
        out.push_str(&format!("{pad}  grants: nothing\n"));
    } else {
        for c in caps {
            out.push_str(&format!("{pad}  grants: {c}\n"));
        }
    }
    let l = &np.limits;
    let mut limits = Vec::new();
    if let Some(m) = l.memory {
        limits.push(format!("memory {m} bytes"));
    }
    if let Some(f) = l.fuel {
        limits.push(format!("fuel {f}"));
    }
    if let Some(t) = l.timeout {
        limits.push(format!("timeout {t:?}"));
    }
    if !limits.is_empty() {
        out.push_str(&format!("{pad}  limits: {}\n", limits.join(", ")));
    }
    for (import, target) in &np.links {
        out.push_str(&format!("{pad}  links: {import} -> {target}\n"));
    }
    for child in manifest
        .nanoprocesses
        .values()
        .filter(|c| c.parent.as_deref() == Some(&np.name))
    {
        tree_node(manifest, child, depth + 1, out, seen);
    }
}
