//! The capability context: what a guest was granted, as values. [`WasiCtxBuilder`] starts
//! from nothing; each method hands over one capability.

use crate::errno::Errno;
use crate::fs::{WasiDir, WasiFile};
use crate::host::{open_preopen, HostDir};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Errors building a [`WasiCtx`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WasiError {
    /// A preopen's host directory could not be opened (it does not exist, is not a
    /// directory, or is not accessible).
    #[error("cannot preopen host directory `{path}`: {source}")]
    Preopen {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A virtual directory could not be loaded from the host.
    #[error("cannot load `{path}` into a virtual directory: {source}")]
    VirtualLoad {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a preopened directory lets the guest do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirPerms {
    /// Read files and list directories; every write, create, rename, unlink, truncate,
    /// set-times and link is refused with `PERM`.
    ReadOnly,
    /// Everything beneath the directory.
    ReadWrite,
}

impl DirPerms {
    pub(crate) fn writable(self) -> bool {
        self == DirPerms::ReadWrite
    }
}

/// An in-memory byte buffer shared between the embedder and the guest: as stdout/stderr
/// the guest appends to it; as stdin the guest reads its initial contents.
#[derive(Clone, Debug, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    pub fn new() -> SharedBuffer {
        SharedBuffer::default()
    }

    /// A buffer holding `bytes` (e.g. a guest's stdin).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> SharedBuffer {
        SharedBuffer(Arc::new(Mutex::new(bytes.into())))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A poisoned lock only means another holder panicked; the bytes are still valid.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the current contents.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().clone()
    }

    /// The current contents as text (invalid UTF-8 replaced).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where one of stdin, stdout and stderr goes.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The host process's own stream.
    Inherit,
    /// Nothing: reads see end of file, writes are discarded.
    #[default]
    Null,
    /// A host file the embedder opened.
    File(std::fs::File),
    /// An in-memory buffer (stdin reads its contents; stdout/stderr append to it).
    Buffer(SharedBuffer),
}

/// A clock the guest reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// The host's clock.
    #[default]
    Real,
    /// A virtual clock: the first read returns `start` (nanoseconds; since the Unix epoch
    /// for the wall clock, since an arbitrary origin for the monotonic clock), and every
    /// read advances it by `step`. Sleeping (`poll_oneoff`) advances it instead of waiting.
    Fixed { start: u64, step: Duration },
}

impl Clock {
    /// A virtual clock starting at the instant `start`.
    pub fn fixed_at(start: SystemTime, step: Duration) -> Clock {
        let start = start
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos().min(u64::MAX as u128) as u64)
            .unwrap_or(0);
        Clock::Fixed { start, step }
    }
}

/// The source of `random_get`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Random {
    /// The operating system's generator.
    #[default]
    Os,
    /// A deterministic generator (SplitMix64) seeded with this value.
    Seeded(u64),
}

/// How much the audit log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditLevel {
    /// Only refused operations (`PERM`, `ACCES`, `NOTCAPABLE`, `ROFS`, `BADF`).
    Denials,
    /// Refusals plus every filesystem operation, granted or not.
    All,
}

/// Where the audit log goes: one JSON object per line, with `time`, `function`, `fd`,
/// `path` (when the call named one), `target` (the second path of `path_link`,
/// `path_rename`: the new name; of `path_symlink`: the link's contents), `errno` and
/// `code`.
pub struct AuditSink {
    out: Box<dyn Write + Send>,
    level: AuditLevel,
}

impl AuditSink {
    pub fn new(out: impl Write + Send + 'static, level: AuditLevel) -> AuditSink {
        AuditSink {
            out: Box::new(out),
            level,
        }
    }

    pub(crate) fn record(
        &mut self,
        function: &str,
        fd: Option<u32>,
        path: Option<&str>,
        target: Option<&str>,
        errno: Errno,
    ) {
        let logged = match self.level {
            AuditLevel::Denials => errno.is_denial(),
            AuditLevel::All => errno.is_denial() || is_fs_function(function),
        };
        // The normal preopen enumeration (fd_prestat_get until EBADF) is not a denial.
        if !logged || (function == "fd_prestat_get" && errno == Errno::BADF) {
            return;
        }
        let mut line = format!(
            "{{\"time\":\"{}\",\"function\":\"{}\"",
            rfc3339(SystemTime::now()),
            function
        );
        if let Some(fd) = fd {
            line.push_str(&format!(",\"fd\":{fd}"));
        }
        if let Some(path) = path {
            line.push_str(",\"path\":");
            json_string(&mut line, path);
        }
        // The second path of path_link / path_rename (the new name) and path_symlink (the
        // link's contents): often the part that tries to leave the sandbox.
        if let Some(target) = target {
            line.push_str(",\"target\":");
            json_string(&mut line, target);
        }
        line.push_str(&format!(
            ",\"errno\":\"{}\",\"code\":{}}}\n",
            errno.name(),
            errno.0
        ));
        // Auditing must never change what the guest sees; a failing sink is ignored.
        let _ = self.out.write_all(line.as_bytes());
        let _ = self.out.flush();
    }
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSink")
            .field("level", &self.level)
            .finish()
    }
}

fn is_fs_function(name: &str) -> bool {
    name.starts_with("path_")
        || matches!(
            name,
            "fd_close"
                | "fd_renumber"
                | "fd_readdir"
                | "fd_filestat_get"
                | "fd_filestat_set_size"
                | "fd_filestat_set_times"
                | "fd_allocate"
                | "fd_fdstat_set_flags"
        )
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `2026-11-23T02:30:00.123456789Z` for a time after the epoch.
fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// A clock with its state (the current reading of a virtual clock).
#[derive(Debug)]
pub(crate) struct ClockState {
    kind: Clock,
    now: u64,
    origin: Instant,
    wall: bool,
}

impl ClockState {
    fn new(kind: Clock, wall: bool) -> ClockState {
        let now = match kind {
            Clock::Real => 0,
            Clock::Fixed { start, .. } => start,
        };
        ClockState {
            kind,
            now,
            origin: Instant::now(),
            wall,
        }
    }

    fn real_now(&self) -> u64 {
        if self.wall {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        } else {
            // Start well above zero so guests can subtract small durations safely.
            1_000_000_000 + self.origin.elapsed().as_nanos() as u64
        }
    }

    /// Reads the clock (advancing a virtual one by its step).
    pub(crate) fn read(&mut self) -> u64 {
        match self.kind {
            Clock::Real => self.real_now(),
            Clock::Fixed { step, .. } => {
                let t = self.now;
                self.now = self.now.saturating_add(step.as_nanos() as u64);
                t
            }
        }
    }

    /// The current reading without advancing.
    pub(crate) fn peek(&self) -> u64 {
        match self.kind {
            Clock::Real => self.real_now(),
            Clock::Fixed { .. } => self.now,
        }
    }

    pub(crate) fn resolution(&self) -> u64 {
        match self.kind {
            Clock::Real => 1,
            Clock::Fixed { step, .. } => (step.as_nanos() as u64).max(1),
        }
    }

    /// Waits until the clock reads at least `deadline`: a virtual clock jumps there.
    pub(crate) fn wait_until(&mut self, deadline: u64) {
        match self.kind {
            Clock::Real => {
                let now = self.real_now();
                if deadline > now {
                    std::thread::sleep(Duration::from_nanos(deadline - now));
                }
            }
            Clock::Fixed { .. } => self.now = self.now.max(deadline),
        }
    }
}

#[derive(Debug)]
pub(crate) enum RandomState {
    Os,
    Seeded(u64),
}

impl RandomState {
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> Result<(), Errno> {
        match self {
            RandomState::Os => getrandom::fill(buf).map_err(|_| Errno::IO),
            RandomState::Seeded(state) => {
                for chunk in buf.chunks_mut(8) {
                    // SplitMix64.
                    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = *state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^= z >> 31;
                    chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
                }
                Ok(())
            }
        }
    }
}

/// A standard stream descriptor.
pub(crate) struct StdioDesc {
    /// 0, 1 or 2: which stream this is (it keeps its role when renumbered).
    pub(crate) stream: u8,
    pub(crate) io: Stdio,
    /// How much of a stdin buffer has been read.
    pub(crate) pos: usize,
}

pub(crate) struct FileDesc {
    pub(crate) file: Box<dyn WasiFile>,
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) append: bool,
    pub(crate) flags: u16,
    pub(crate) perms: DirPerms,
}

pub(crate) struct DirDesc {
    pub(crate) dir: Box<dyn WasiDir>,
    /// The guest path, for a preopen.
    pub(crate) preopen: Option<String>,
    pub(crate) perms: DirPerms,
}

pub(crate) enum Desc {
    Stdio(StdioDesc),
    File(FileDesc),
    Dir(DirDesc),
}

/// Open descriptors a guest may hold at once.
const MAX_FDS: usize = 16_384;

/// Everything one guest was granted, plus its open descriptors.
pub struct WasiCtx {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<String>,
    pub(crate) table: BTreeMap<u32, Desc>,
    pub(crate) wall: ClockState,
    pub(crate) mono: ClockState,
    pub(crate) random: RandomState,
    pub(crate) audit: Option<AuditSink>,
    /// The descriptor and paths the current call named, for the audit log.
    pub(crate) call_fd: Option<u32>,
    pub(crate) call_path: Option<String>,
    pub(crate) call_target: Option<String>,
}

impl std::fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiCtx")
            .field("args", &self.args)
            .field("env", &self.env)
            .field("fds", &self.table.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl WasiCtx {
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::new()
    }

    pub(crate) fn get(&mut self, fd: i32) -> Result<&mut Desc, Errno> {
        let fd = fd as u32;
        self.call_fd = Some(fd);
        self.table.get_mut(&fd).ok_or(Errno::BADF)
    }

    pub(crate) fn file(&mut self, fd: i32) -> Result<&mut FileDesc, Errno> {
        match self.get(fd)? {
            Desc::File(f) => Ok(f),
            Desc::Dir(_) => Err(Errno::ISDIR),
            Desc::Stdio(_) => Err(Errno::SPIPE),
        }
    }

    pub(crate) fn dir(&mut self, fd: i32) -> Result<&mut DirDesc, Errno> {
        match self.get(fd)? {
            Desc::Dir(d) => Ok(d),
            _ => Err(Errno::NOTDIR),
        }
    }

    pub(crate) fn insert(&mut self, desc: Desc) -> Result<u32, Errno> {
        if self.table.len() >= MAX_FDS {
            return Err(Errno::MFILE);
        }
        let mut fd = 0u32;
        for &k in self.table.keys() {
            if k != fd {
                break;
            }
            fd += 1;
        }
        self.table.insert(fd, desc);
        Ok(fd)
    }
}

/// Builds a [`WasiCtx`]. A new builder grants nothing: no arguments, no environment, no
/// directories, null stdio; clocks are real and random comes from the OS unless set.
#[derive(Default)]
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    preopens: Vec<(String, Box<dyn WasiDir>, DirPerms)>,
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
    wall: Clock,
    mono: Clock,
    random: Random,
    audit: Option<AuditSink>,
}

impl std::fmt::Debug for WasiCtxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiCtxBuilder")
            .field("args", &self.args)
            .field("env", &self.env)
            .field(
                "preopens",
                &self
                    .preopens
                    .iter()
                    .map(|(g, _, p)| (g, p))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl WasiCtxBuilder {
    pub fn new() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }

    /// Appends one argument (the first is conventionally the program name).
    pub fn arg(&mut self, arg: impl Into<String>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<S: Into<String>>(&mut self, args: impl IntoIterator<Item = S>) -> &mut Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Grants one environment variable.
    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn envs<K: Into<String>, V: Into<String>>(
        &mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> &mut Self {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Grants the host directory `host_path` to the guest as `guest_path`.
    pub fn preopened_dir(
        &mut self,
        host_path: impl AsRef<Path>,
        guest_path: impl Into<String>,
        perms: DirPerms,
    ) -> Result<&mut Self, WasiError> {
        let host_path = host_path.as_ref();
        let dir = open_preopen(host_path).map_err(|source| WasiError::Preopen {
            path: host_path.display().to_string(),
            source,
        })?;
        self.preopens
            .push((guest_path.into(), Box::new(HostDir(dir)), perms));
        Ok(self)
    }

    /// Grants an in-memory directory tree to the guest as `guest_path`.
    pub fn preopened_virtual_dir(
        &mut self,
        guest_path: impl Into<String>,
        dir: crate::vfs::VirtualDir,
        perms: DirPerms,
    ) -> &mut Self {
        self.preopens
            .push((guest_path.into(), Box::new(dir.handle()), perms));
        self
    }

    pub fn stdin(&mut self, stdio: Stdio) -> &mut Self {
        self.stdin = stdio;
        self
    }

    pub fn stdout(&mut self, stdio: Stdio) -> &mut Self {
        self.stdout = stdio;
        self
    }

    pub fn stderr(&mut self, stdio: Stdio) -> &mut Self {
        self.stderr = stdio;
        self
    }

    /// Stdin, stdout and stderr all inherited from the host process.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.stdin = Stdio::Inherit;
        self.stdout = Stdio::Inherit;
        self.stderr = Stdio::Inherit;
        self
    }

    /// The clock behind `CLOCK_REALTIME`.
    pub fn wall_clock(&mut self, clock: Clock) -> &mut Self {
        self.wall = clock;
        self
    }

    /// The clock behind `CLOCK_MONOTONIC` (and the CPU-time clocks).
    pub fn monotonic_clock(&mut self, clock: Clock) -> &mut Self {
        self.mono = clock;
        self
    }

    pub fn random(&mut self, random: Random) -> &mut Self {
        self.random = random;
        self
    }

    pub fn audit(&mut self, sink: AuditSink) -> &mut Self {
        self.audit = Some(sink);
        self
    }

    /// The context; the builder is left empty (granting nothing) for reuse.
    pub fn build(&mut self) -> WasiCtx {
        let b = std::mem::take(self);
        let mut table = BTreeMap::new();
        for (fd, io) in [b.stdin, b.stdout, b.stderr].into_iter().enumerate() {
            let desc = Desc::Stdio(StdioDesc {
                stream: fd as u8,
                io,
                pos: 0,
            });
            table.insert(fd as u32, desc);
        }
        for (i, (guest, dir, perms)) in b.preopens.into_iter().enumerate() {
            table.insert(
                3 + i as u32,
                Desc::Dir(DirDesc {
                    dir,
                    preopen: Some(guest),
                    perms,
                }),
            );
        }
        WasiCtx {
            args: b.args,
            env: b.env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
            table,
            wall: ClockState::new(b.wall, true),
            mono: ClockState::new(b.mono, false),
            random: match b.random {
                Random::Os => RandomState::Os,
                Random::Seeded(seed) => RandomState::Seeded(seed),
            },
            audit: b.audit,
            call_fd: None,
            call_path: None,
            call_target: None,
        }
    }
}
