//! The application manifest (`nanoproc.toml`): which nanoprocesses exist, what each is
//! granted, how they are linked. Parsing reports every problem at once, each naming the
//! file, the nanoprocess and the key.

use crate::units::{parse_duration, parse_rfc3339, parse_size};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::{Table, Value};

/// One problem found in a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// The nanoprocess the problem is about, if any.
    pub nanoprocess: Option<String>,
    /// The key, dotted (`grants.dirs[1].mode`).
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if let Some(np) = &self.nanoprocess {
            write!(f, "nanoprocess `{np}`: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid TOML: {message}")]
    Toml { path: String, message: String },
    /// Every problem found, in file order.
    #[error("{}", problems_text(.0))]
    Invalid(Vec<Problem>),
}

fn problems_text(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    lines.join("\n")
}

/// Directory access mode; `Ro` is weaker than `Rw`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Ro,
    Rw,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Ro => "ro",
            Mode::Rw => "rw",
        })
    }
}

/// A preopened directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirGrant {
    /// The host path as written in the manifest.
    pub host_text: String,
    /// The host path resolved against the manifest's folder.
    pub host: PathBuf,
    pub guest: String,
    pub mode: Mode,
}

/// The clock a nanoprocess may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClockGrant {
    None,
    Real,
    /// A virtual clock: starts at `start_ns` (since the Unix epoch), advancing by `step`
    /// on every read. Reveals nothing about the host.
    Fixed {
        start_ns: i128,
        step: Duration,
    },
}

/// The randomness a nanoprocess may draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RandomGrant {
    None,
    Os,
    Seed(u64),
}

/// Which standard streams are inherited from the host (the others are null).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StdioGrant {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// Everything a nanoprocess may touch. The default grants nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grants {
    pub dirs: Vec<DirGrant>,
    pub env: BTreeMap<String, String>,
    pub clock: ClockGrant,
    pub random: RandomGrant,
    pub stdio: StdioGrant,
}

impl Default for Grants {
    fn default() -> Grants {
        Grants {
            dirs: Vec::new(),
            env: BTreeMap::new(),
            clock: ClockGrant::None,
            random: RandomGrant::None,
            stdio: StdioGrant::default(),
        }
    }
}

/// Resource limits; `None` means the runtime's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of linear memory.
    pub memory: Option<u64>,
    pub fuel: Option<u64>,
    pub timeout: Option<Duration>,
}

/// One nanoprocess: a module instance with its own memory and grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nanoprocess {
    pub name: String,
    /// The module path resolved against the manifest's folder.
    pub module: PathBuf,
    pub parent: Option<String>,
    pub wit: Option<PathBuf>,
    pub grants: Grants,
    pub limits: Limits,
    /// Import namespace (e.g. `acme:img/resize`) → the nanoprocess that serves it.
    pub links: BTreeMap<String, String>,
}

/// A parsed, structurally valid manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub file: PathBuf,
    pub app_name: String,
    /// The nanoprocess whose `_start` runs.
    pub main: String,
    pub nanoprocesses: BTreeMap<String, Nanoprocess>,
}

impl Manifest {
    /// Reads and parses a manifest file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Manifest, ManifestError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Manifest::parse(&text, path)
    }

    /// Parses manifest text; relative paths are resolved against `path`'s folder.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let file = path.display().to_string();
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ManifestError::Toml {
                path: file.clone(),
                message: e.message().to_string(),
            })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut p = Parser {
            file,
            base,
            problems: Vec::new(),
            np: None,
        };
        let manifest = p.manifest(&table, path);
        if p.problems.is_empty() {
            Ok(manifest)
        } else {
            Err(ManifestError::Invalid(p.problems))
        }
    }

    /// The chain of ancestors of `name`, nearest first.
    pub fn ancestors(&self, name: &str) -> Vec<&Nanoprocess> {
        let mut out = Vec::new();
        let mut cur = self
            .nanoprocesses
            .get(name)
            .and_then(|n| n.parent.as_deref());
        while let Some(p) = cur {
            match self.nanoprocesses.get(p) {
                Some(np) if !out.iter().any(|o: &&Nanoprocess| o.name == np.name) => {
                    out.push(np);
                    cur = np.parent.as_deref();
                }
                _ => break,
            }
        }
        out
    }
}

struct Parser {
    file: String,
    base: PathBuf,
    problems: Vec<Problem>,
    np: Option<String>,
}

impl Parser {
    fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            nanoprocess: self.np.clone(),
            key: key.into(),
            message: message.into(),
        });
    }

    fn unknown_keys(&mut self, table: &Table, prefix: &str, allowed: &[&str]) {
        for k in table.keys() {
            if !allowed.contains(&k.as_str()) {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                self.problem(
                    key,
                    format!("unknown key (expected one of: {})", allowed.join(", ")),
                );
            }
        }
    }

    fn string(&mut self, v: Option<&Value>, key: &str) -> Option<String> {
        match v {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.problem(
                    key,
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn table<'t>(&mut self, v: Option<&'t Value>, key: &str) -> Option<&'t Table> {
        match v {
            None => None,
            Some(Value::Table(t)) => Some(t),
            Some(other) => {
                self.problem(key, format!("expected a table, found {}", other.type_str()));
                None
            }
        }
    }

    fn path(&self, text: &str) -> PathBuf {
        self.base.join(text)
    }

    fn manifest(&mut self, t: &Table, path: &Path) -> Manifest {
        self.unknown_keys(t, "", &["app", "nanoprocess"]);
        let app = self.table(t.get("app"), "app");
        let (mut app_name, mut main) = (String::new(), String::new());
        match app {
            Some(app) => {
                self.unknown_keys(app, "app", &["name", "main"]);
                app_name = self.string(app.get("name"), "app.name").unwrap_or_default();
                match self.string(app.get("main"), "app.main") {
                    Some(m) => main = m,
                    None => self.problem(
                        "app.main",
                        "missing: name the nanoprocess whose _start runs",
                    ),
                }
            }
            None => self.problem("app", "missing [app] table with `main`"),
        }
        let mut nanoprocesses = BTreeMap::new();
        match self.table(t.get("nanoprocess"), "nanoprocess") {
            Some(nps) if !nps.is_empty() => {
                for (name, v) in nps {
                    self.np = Some(name.clone());
                    if let Some(np_table) = self.table(Some(v), "") {
                        let np = self.nanoprocess(name, np_table);
                        nanoprocesses.insert(name.clone(), np);
                    }
                    self.np = None;
                }
            }
            _ => self.problem(
                "nanoprocess",
                "no nanoprocess defined ([nanoprocess.NAME] tables)",
            ),
        }
        // Cross-references.
        if !main.is_empty() && !nanoprocesses.contains_key(&main) {
            self.problem("app.main", format!("no nanoprocess named `{main}`"));
        }
        if let Some(np) = nanoprocesses.get(&main) {
            if let Some(parent) = &np.parent {
                self.problem(
                    "app.main",
                    format!(
                        "the main nanoprocess `{main}` must be the root, but has parent `{parent}`"
                    ),
                );
            }
        }
        let names: Vec<String> = nanoprocesses.keys().cloned().collect();
        for np in nanoprocesses.values() {
            self.np = Some(np.name.clone());
            if let Some(parent) = &np.parent {
                if !names.contains(parent) {
                    self.problem("parent", format!("no nanoprocess named `{parent}`"));
                }
            } else if np.name != main && !main.is_empty() {
                self.problem(
                    "parent",
                    format!("missing: only the main nanoprocess `{main}` may be a root"),
                );
            }
            for (import, target) in &np.links {
                if !names.contains(target) {
                    self.problem(
                        format!("links.{import}"),
                        format!("no nanoprocess named `{target}`"),
                    );
                } else if target == &np.name {
                    self.problem(
                        format!("links.{import}"),
                        "a nanoprocess cannot link to itself",
                    );
                }
            }
            // Parent cycles.
            let mut seen = vec![np.name.clone()];
            let mut cur = np.parent.clone();
            while let Some(p) = cur {
                if seen.contains(&p) {
                    self.problem(
                        "parent",
                        format!("parent chain loops: {} -> {p}", seen.join(" -> ")),
                    );
                    break;
                }
                seen.push(p.clone());
                cur = nanoprocesses.get(&p).and_then(|n| n.parent.clone());
            }
            self.np = None;
        }
        Manifest {
            file: path.to_path_buf(),
            app_name,
            main,
            nanoprocesses,
        }
    }

    fn nanoprocess(&mut self, name: &str, t: &Table) -> Nanoprocess {
        self.unknown_keys(
            t,
            "",
            &["module", "parent", "wit", "grants", "limits", "links"],
        );
        let module = match self.string(t.get("module"), "module") {
            Some(m) => self.path(&m),
            None => {
                self.problem("module", "missing: the module file of this nanoprocess");
                PathBuf::new()
            }
        };
        let parent = self.string(t.get("parent"), "parent");
        let wit = self.string(t.get("wit"), "wit").map(|w| self.path(&w));
        let grants = match self.table(t.get("grants"), "grants") {
            Some(g) => self.grants(g),
            None => Grants::default(),
        };
        let limits = match self.table(t.get("limits"), "limits") {
            Some(l) => self.limits(l),
            None => Limits::default(),
        };
        let mut links = BTreeMap::new();
        if let Some(l) = self.table(t.get("links"), "links") {
            for (import, v) in l {
                if let Some(target) = self.string(Some(v), &format!("links.{import}")) {
                    links.insert(import.clone(), target);
                }
            }
        }
        Nanoprocess {
            name: name.to_string(),
            module,
            parent,
            wit,
            grants,
            limits,
            links,
        }
    }

    fn grants(&mut self, t: &Table) -> Grants {
        self.unknown_keys(t, "grants", &["dirs", "env", "clock", "random", "stdio"]);
        let mut g = Grants::default();
        match t.get("dirs") {
            None => {}
            Some(Value::Array(dirs)) => {
                for (i, d) in dirs.iter().enumerate() {
                    let key = format!("grants.dirs[{i}]");
                    if let Some(d) = self.table(Some(d), &key) {
                        if let Some(dir) = self.dir(d, &key) {
                            if g.dirs.iter().any(|o| o.guest == dir.guest) {
                                self.problem(
                                    &key,
                                    format!("guest path `{}` is granted twice", dir.guest),
                                );
                            }
                            g.dirs.push(dir);
                        }
                    }
                }
            }
            Some(other) => self.problem(
                "grants.dirs",
                format!("expected an array, found {}", other.type_str()),
            ),
        }
        if let Some(env) = self.table(t.get("env"), "grants.env") {
            for (k, v) in env {
                if let Some(v) = self.string(Some(v), &format!("grants.env.{k}")) {
                    if k.contains('=') || k.is_empty() {
                        self.problem(format!("grants.env.{k}"), "not a valid variable name");
                    }
                    g.env.insert(k.clone(), v);
                }
            }
        }
        if let Some(c) = self.string(t.get("clock"), "grants.clock") {
            match parse_clock(&c) {
                Ok(c) => g.clock = c,
                Err(e) => self.problem("grants.clock", e),
            }
        }
        if let Some(r) = self.string(t.get("random"), "grants.random") {
            match parse_random(&r) {
                Ok(r) => g.random = r,
                Err(e) => self.problem("grants.random", e),
            }
        }
        if let Some(s) = self.table(t.get("stdio"), "grants.stdio") {
            self.unknown_keys(s, "grants.stdio", &["stdin", "stdout", "stderr"]);
            for (stream, slot) in [
                ("stdin", &mut g.stdio.stdin),
                ("stdout", &mut g.stdio.stdout),
                ("stderr", &mut g.stdio.stderr),
            ] {
                let key = format!("grants.stdio.{stream}");
                match s.get(stream) {
                    None => {}
                    Some(Value::String(v)) if v == "inherit" => *slot = true,
                    Some(Value::String(v)) if v == "null" => *slot = false,
                    Some(other) => self.problems.push(Problem {
                        file: self.file.clone(),
                        nanoprocess: self.np.clone(),
                        key,
                        message: format!("expected \"inherit\" or \"null\", found {other}"),
                    }),
                }
            }
        }
        g
    }

    fn dir(&mut self, d: &Table, key: &str) -> Option<DirGrant> {
        self.unknown_keys(d, key, &["host", "guest", "mode"]);
        let host = self.string(d.get("host"), &format!("{key}.host"));
        let guest = self.string(d.get("guest"), &format!("{key}.guest"));
        let mode = match self
            .string(d.get("mode"), &format!("{key}.mode"))
            .as_deref()
        {
            Some("ro") | None => Mode::Ro,
            Some("rw") => Mode::Rw,
            Some(other) => {
                self.problem(
                    format!("{key}.mode"),
                    format!("`{other}` is not a mode (ro or rw)"),
                );
                Mode::Ro
            }
        };
        let Some(host) = host else {
            self.problem(
                format!("{key}.host"),
                "missing: the host directory to grant",
            );
            return None;
        };
        let guest = guest.unwrap_or_else(|| host.clone());
        Some(DirGrant {
            host: self.path(&host),
            host_text: host,
            guest,
            mode,
        })
    }

    fn limits(&mut self, t: &Table) -> Limits {
        self.unknown_keys(t, "limits", &["memory", "fuel", "timeout"]);
        let mut l = Limits::default();
        match t.get("memory") {
            None => {}
            Some(Value::Integer(n)) if *n >= 0 => l.memory = Some(*n as u64),
            Some(Value::String(s)) => match parse_size(s) {
                Ok(n) => l.memory = Some(n),
                Err(e) => self.problem("limits.memory", e),
            },
            Some(other) => self.problem(
                "limits.memory",
                format!("expected a size like \"64MiB\", found {other}"),
            ),
        }
        match t.get("fuel") {
            None => {}
            Some(Value::Integer(n)) if *n >= 0 => l.fuel = Some(*n as u64),
            Some(other) => self.problem(
                "limits.fuel",
                format!("expected a non-negative integer, found {other}"),
            ),
        }
        match t.get("timeout") {
            None => {}
            Some(Value::String(s)) => match parse_duration(s) {
                Ok(d) => l.timeout = Some(d),
                Err(e) => self.problem("limits.timeout", e),
            },
            Some(other) => self.problem(
                "limits.timeout",
                format!("expected a duration like \"10s\", found {other}"),
            ),
        }
        l
    }
}

/// `real` | `none` | `fixed:<RFC3339>[,step=<duration>]`.
pub fn parse_clock(text: &str) -> Result<ClockGrant, String> {
    match text {
        "real" => return Ok(ClockGrant::Real),
        "none" => return Ok(ClockGrant::None),
        _ => {}
    }
    let Some(rest) = text.strip_prefix("fixed:") else {
        return Err(format!(
            "`{text}` is not a clock (real, none, or fixed:<RFC3339>[,step=<duration>])"
        ));
    };
    let (instant, step) = match rest.split_once(",step=") {
        Some((i, s)) => (i, parse_duration(s)?),
        None => (rest, Duration::ZERO),
    };
    Ok(ClockGrant::Fixed {
        start_ns: parse_rfc3339(instant)?,
        step,
    })
}

/// `os` | `none` | `seed:<u64>`.
pub fn parse_random(text: &str) -> Result<RandomGrant, String> {
    match text {
        "os" => Ok(RandomGrant::Os),
        "none" => Ok(RandomGrant::None),
        _ => text
            .strip_prefix("seed:")
            .and_then(|s| s.parse().ok())
            .map(RandomGrant::Seed)
            .ok_or_else(|| format!("`{text}` is not a random source (os, none, or seed:<u64>)")),
    }
}
