//! Oracle: random WASI path operations against a read-write preopen never change anything
//! outside it, and never read a byte of a file outside it.
//!
//! Each run lays out a fresh temporary tree:
//!
//! ```text
//! root/outside.txt            secret
//! root/sentinel/secret.txt    secret      root/sentinel/sub/deep.txt  secret
//! root/box/box_secret.txt     secret
//! root/box/sandbox/           the preopen (guest fd 3, read-write)
//!     a  d/f                  ordinary files
//!     escape -> ../box_secret.txt          escape2 -> ../../sentinel
//!     abs_escape -> <root>/sentinel/secret.txt   loop -> loop
//! ```
//!
//! Secret files hold a marker that the guest can never write (guest data is lowercase
//! letters only), have an old fixed mtime, and are snapshotted (kind, size, contents, mtime,
//! mode, link count, symlink target) together with every directory outside the sandbox.
//! The operations run through a tiny wasm shim whose exports forward to the WASI imports,
//! with paths written into its memory; a path is a few components drawn from a vocabulary
//! of escapes (`..`, `/`, the host's absolute paths, the escaping symlinks, NULs, long and
//! invalid UTF-8 names). Afterwards the snapshot must be unchanged, every byte the guest
//! read (files, link targets) must be free of the marker, and no vocabulary name may have
//! appeared next to the temporary root.

use crate::{fail, Failure};
use arbitrary::Unstructured;
use nanoproc_engine::{Engine, Func, Instance, Linker, Memory, Module, Store, Val};
use nanoproc_wasi::{add_to_linker, DirPerms, WasiCtx, WasiCtxBuilder};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Operations run and operations that succeeded (errno 0) in this process, to show the
/// oracle gets past argument checking (`tests/oracles.rs` prints them).
pub mod stats {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static OPS: AtomicU64 = AtomicU64::new(0);
    pub static OPS_OK: AtomicU64 = AtomicU64::new(0);

    pub fn summary() -> String {
        format!(
            "{} WASI operations, {} succeeded",
            OPS.load(Ordering::Relaxed),
            OPS_OK.load(Ordering::Relaxed)
        )
    }
}

const SECRET: &[u8] = b"NANOFUZZ-SECRET-MARKER";
const MAX_OPS: usize = 48;
const PATH_A: u32 = 1024;
const PATH_B: u32 = 16 * 1024;
const BUF: u32 = 32 * 1024;
const BUF_LEN: u32 = 16 * 1024;
const OUT: u32 = 64;
const IOV: u32 = 128;
const PREOPEN_FD: i32 = 3;

/// The WASI functions the shim forwards, with their parameter types (all return errno).
const SHIM: &[(&str, &str)] = &[
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32"),
    ("path_create_directory", "i32 i32 i32"),
    ("path_unlink_file", "i32 i32 i32"),
    ("path_remove_directory", "i32 i32 i32"),
    ("path_rename", "i32 i32 i32 i32 i32 i32"),
    ("path_symlink", "i32 i32 i32 i32 i32"),
    ("path_readlink", "i32 i32 i32 i32 i32 i32"),
    ("path_filestat_get", "i32 i32 i32 i32 i32"),
    ("path_filestat_set_times", "i32 i32 i32 i32 i64 i64 i32"),
    ("path_link", "i32 i32 i32 i32 i32 i32 i32"),
    ("fd_read", "i32 i32 i32 i32"),
    ("fd_write", "i32 i32 i32 i32"),
    ("fd_filestat_set_size", "i32 i64"),
    ("fd_close", "i32"),
    ("fd_readdir", "i32 i32 i32 i64 i32"),
];

fn shim_wat() -> String {
    let mut s = String::from("(module\n");
    for (name, params) in SHIM {
        s += &format!(
            "  (import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} (param {params}) (result i32)))\n"
        );
    }
    s += "  (memory (export \"memory\") 1)\n";
    for (name, params) in SHIM {
        let n = params.split(' ').count();
        let gets: String = (0..n).map(|i| format!("(local.get {i}) ")).collect();
        s += &format!(
            "  (func (export \"{name}\") (param {params}) (result i32) (call ${name} {gets}))\n"
        );
    }
    s + ")\n"
}

/// One decoded operation (kept for the failure message).
#[derive(Debug)]
enum Op {
    Open {
        dir: i32,
        follow: bool,
        path: Vec<u8>,
        oflags: i32,
        rights: i64,
        fdflags: i32,
    },
    Mkdir {
        dir: i32,
        path: Vec<u8>,
    },
    Unlink {
        dir: i32,
        path: Vec<u8>,
    },
    Rmdir {
        dir: i32,
        path: Vec<u8>,
    },
    Rename {
        dir: i32,
        path: Vec<u8>,
        dir2: i32,
        path2: Vec<u8>,
    },
    Symlink {
        target: Vec<u8>,
        dir: i32,
        path: Vec<u8>,
    },
    Readlink {
        dir: i32,
        path: Vec<u8>,
    },
    Stat {
        dir: i32,
        follow: bool,
        path: Vec<u8>,
    },
    SetTimes {
        dir: i32,
        follow: bool,
        path: Vec<u8>,
        mtime: i64,
    },
    Link {
        dir: i32,
        follow: bool,
        path: Vec<u8>,
        dir2: i32,
        path2: Vec<u8>,
    },
    Read {
        fd: i32,
        len: u32,
    },
    Write {
        fd: i32,
        data: Vec<u8>,
    },
    Truncate {
        fd: i32,
        size: i64,
    },
    Close {
        fd: i32,
    },
    Readdir {
        fd: i32,
    },
}

struct Layout {
    root: tempfile::TempDir,
    sandbox: PathBuf,
}

impl Layout {
    fn new() -> std::io::Result<Layout> {
        let root = tempfile::Builder::new().prefix("nanofuzz-wasi").tempdir()?;
        let r = root.path();
        let secret = |p: &Path| -> std::io::Result<()> {
            let mut body = SECRET.to_vec();
            body.extend_from_slice(format!(" {}", p.display()).as_bytes());
            fs::write(p, body)?;
            let f = fs::File::options().write(true).open(p)?;
            f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000))
        };
        secret(&r.join("outside.txt"))?;
        fs::create_dir_all(r.join("sentinel/sub"))?;
        secret(&r.join("sentinel/secret.txt"))?;
        secret(&r.join("sentinel/sub/deep.txt"))?;
        fs::create_dir_all(r.join("box/sandbox/d"))?;
        secret(&r.join("box/box_secret.txt"))?;
        let sandbox = r.join("box/sandbox");
        fs::write(sandbox.join("a"), b"hello")?;
        fs::write(sandbox.join("d/f"), b"inner")?;
        std::os::unix::fs::symlink("../box_secret.txt", sandbox.join("escape"))?;
        std::os::unix::fs::symlink("../../sentinel", sandbox.join("escape2"))?;
        std::os::unix::fs::symlink(r.join("sentinel/secret.txt"), sandbox.join("abs_escape"))?;
        std::os::unix::fs::symlink("loop", sandbox.join("loop"))?;
        Ok(Layout { root, sandbox })
    }

    /// Everything outside the sandbox, keyed by path relative to the root.
    fn snapshot(&self) -> std::io::Result<BTreeMap<PathBuf, String>> {
        let mut out = BTreeMap::new();
        walk(self.root.path(), self.root.path(), &self.sandbox, &mut out)?;
        Ok(out)
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    skip: &Path,
    out: &mut BTreeMap<PathBuf, String>,
) -> std::io::Result<()> {
    let md = fs::symlink_metadata(dir)?;
    let rel = dir.strip_prefix(root).unwrap_or(dir).to_path_buf();
    out.insert(rel, describe(dir, &md)?);
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path == skip {
            continue;
        }
        let md = fs::symlink_metadata(&path)?;
        if md.is_dir() {
            walk(root, &path, skip, out)?;
        } else {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            out.insert(rel, describe(&path, &md)?);
        }
    }
    Ok(())
}

fn describe(path: &Path, md: &fs::Metadata) -> std::io::Result<String> {
    let common = format!(
        "mode {:o} nlink {} mtime {}.{}",
        md.mode(),
        md.nlink(),
        md.mtime(),
        md.mtime_nsec()
    );
    Ok(if md.file_type().is_symlink() {
        format!("symlink -> {:?} {common}", fs::read_link(path)?)
    } else if md.is_dir() {
        format!("dir {common}")
    } else {
        format!(
            "file {:?} {common}",
            String::from_utf8_lossy(&fs::read(path)?)
        )
    })
}

/// Names the guest might create, checked next to the temporary root and at `/`.
const NEW_NAMES: &[&str] = &["nanofuzz_new", "nanofuzz_dir"];

fn vocabulary(layout: &Layout) -> Vec<Vec<u8>> {
    let r = layout.root.path();
    let mut v: Vec<Vec<u8>> = [
        "..",
        ".",
        "",
        "a",
        "d",
        "f",
        "escape",
        "escape2",
        "abs_escape",
        "loop",
        "sandbox",
        "box",
        "sentinel",
        "secret.txt",
        "box_secret.txt",
        "outside.txt",
        "sub",
        "deep.txt",
        "nanofuzz_new",
        "nanofuzz_dir",
        "/",
        "/tmp",
        "a\0b",
        "..\0",
        "...",
        "~",
        "\\..",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    v.push(vec![b'x'; 255]);
    v.push(vec![b'y'; 256]);
    v.push(vec![b'z'; 5000]);
    v.push(vec![0xff, 0xfe, b'.', b'.']);
    for p in [
        r.to_path_buf(),
        r.join("sentinel"),
        r.join("box"),
        r.join("outside.txt"),
    ] {
        v.push(p.to_string_lossy().as_bytes().to_vec());
    }
    v
}

fn arb_path(u: &mut Unstructured<'_>, vocab: &[Vec<u8>]) -> Vec<u8> {
    let mut p = Vec::new();
    if u.ratio(1, 8).unwrap_or(false) {
        p.push(b'/');
    }
    // Mostly short paths, so operations get past resolution and change things.
    let n = match u.arbitrary::<u8>().unwrap_or(0) % 8 {
        0..=3 => 1,
        4 | 5 => 2,
        6 => 3,
        _ => u.int_in_range(4..=8).unwrap_or(4),
    };
    for i in 0..n {
        if i > 0 {
            p.push(b'/');
        }
        if u.ratio(1, 10).unwrap_or(false) {
            // Raw bytes: invalid UTF-8, NULs, stray slashes.
            let len = u.int_in_range(0..=12).unwrap_or(0);
            for _ in 0..len {
                p.push(u.arbitrary::<u8>().unwrap_or(b'q'));
            }
        } else {
            let i = u.choose_index(vocab.len()).unwrap_or(0);
            p.extend_from_slice(&vocab[i]);
        }
    }
    if u.ratio(1, 8).unwrap_or(false) {
        p.push(b'/');
    }
    if u.ratio(1, 30).unwrap_or(false) {
        // A very long path of harmless components.
        for _ in 0..2000 {
            p.extend_from_slice(b"/d/..");
        }
    }
    p.truncate((PATH_B - PATH_A) as usize);
    p
}

fn arb_fd(u: &mut Unstructured<'_>, fds: &[i32]) -> i32 {
    if u.ratio(1, 16).unwrap_or(false) {
        return i32::from(u.arbitrary::<u8>().unwrap_or(0));
    }
    fds[u.choose_index(fds.len()).unwrap_or(0)]
}

fn decode_op(u: &mut Unstructured<'_>, vocab: &[Vec<u8>], fds: &[i32]) -> Option<Op> {
    const RIGHTS: [i64; 4] = [
        (1 << 1) | (1 << 14),            // read, readdir
        (1 << 6) | (1 << 22),            // write, set size
        (1 << 1) | (1 << 6) | (1 << 22), // read and write
        (1 << 30) - 1,                   // every right
    ];
    let kind = u.arbitrary::<u8>().ok()? % 15;
    let dir = arb_fd(u, fds);
    let follow = u.arbitrary::<bool>().ok()?;
    Some(match kind {
        0 => Op::Open {
            dir,
            follow,
            path: arb_path(u, vocab),
            oflags: i32::from(u.arbitrary::<u8>().ok()? & 0x1f),
            rights: RIGHTS[u.choose_index(RIGHTS.len()).ok()?],
            fdflags: i32::from(u.arbitrary::<u8>().ok()? & 0x1f),
        },
        1 => Op::Mkdir {
            dir,
            path: arb_path(u, vocab),
        },
        2 => Op::Unlink {
            dir,
            path: arb_path(u, vocab),
        },
        3 => Op::Rmdir {
            dir,
            path: arb_path(u, vocab),
        },
        4 => Op::Rename {
            dir,
            path: arb_path(u, vocab),
            dir2: arb_fd(u, fds),
            path2: arb_path(u, vocab),
        },
        5 => Op::Symlink {
            target: arb_path(u, vocab),
            dir,
            path: arb_path(u, vocab),
        },
        6 => Op::Readlink {
            dir,
            path: arb_path(u, vocab),
        },
        7 => Op::Stat {
            dir,
            follow,
            path: arb_path(u, vocab),
        },
        8 => Op::SetTimes {
            dir,
            follow,
            path: arb_path(u, vocab),
            mtime: u.arbitrary::<i64>().ok()?,
        },
        9 => Op::Link {
            dir,
            follow,
            path: arb_path(u, vocab),
            dir2: arb_fd(u, fds),
            path2: arb_path(u, vocab),
        },
        10 => Op::Read {
            fd: dir,
            len: u.int_in_range(0..=BUF_LEN).ok()?,
        },
        11 => {
            let len = u.int_in_range(0..=64).ok()?;
            let data = (0..len)
                .map(|_| b'a' + u.arbitrary::<u8>().unwrap_or(0) % 26)
                .collect();
            Op::Write { fd: dir, data }
        }
        12 => Op::Truncate {
            fd: dir,
            size: i64::from(u.arbitrary::<u16>().ok()?),
        },
        13 => Op::Close { fd: dir },
        _ => Op::Readdir { fd: dir },
    })
}

struct Guest {
    store: Store<WasiCtx>,
    instance: Instance,
    memory: Memory,
}

impl Guest {
    fn call(&mut self, name: &str, args: &[Val]) -> Result<i32, Failure> {
        let f: Func = self
            .instance
            .get_func(&self.store, name)
            .ok_or_else(|| Failure(format!("shim lacks {name}")))?;
        let mut out = [Val::I32(0)];
        f.call(&mut self.store, args, &mut out)
            .map_err(|e| Failure(format!("WASI `{name}` trapped: {e}")))?;
        let errno = out[0].i32().unwrap_or(-1);
        use std::sync::atomic::Ordering::Relaxed;
        stats::OPS.fetch_add(1, Relaxed);
        if errno == 0 {
            stats::OPS_OK.fetch_add(1, Relaxed);
        }
        Ok(errno)
    }

    fn put(&mut self, at: u32, bytes: &[u8]) -> Result<(), Failure> {
        self.memory
            .write(&mut self.store, at as usize, bytes)
            .map_err(|e| Failure(format!("writing guest memory: {e}")))
    }

    fn get(&self, at: u32, len: u32) -> Vec<u8> {
        let data = self.memory.data(&self.store);
        let end = (at as usize + len as usize).min(data.len());
        data[(at as usize).min(end)..end].to_vec()
    }

    fn u32_at(&self, at: u32) -> u32 {
        let b = self.get(at, 4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Writes the path and returns (ptr, len) as values.
    fn path(&mut self, at: u32, p: &[u8]) -> Result<(Val, Val), Failure> {
        self.put(at, p)?;
        Ok((Val::I32(at as i32), Val::I32(p.len() as i32)))
    }
}

/// Decodes up to 48 WASI path operations from `data`, runs them as a guest against a fresh
/// read-write preopen and checks that nothing outside it changed or leaked.
pub fn wasi_paths(data: &[u8]) -> Result<(), Failure> {
    let layout = Layout::new().map_err(|e| Failure(format!("setting up the temp tree: {e}")))?;
    let before = layout
        .snapshot()
        .map_err(|e| Failure(format!("snapshot: {e}")))?;
    let parent = layout.root.path().parent().map(Path::to_path_buf);
    let outside_names_before: Vec<bool> = new_names_present(parent.as_deref());

    let engine = Engine::default();
    let module = Module::new(&engine, shim_wat()).map_err(|e| Failure(format!("shim: {e}")))?;
    let ctx = WasiCtxBuilder::new()
        .preopened_dir(&layout.sandbox, "/sandbox", DirPerms::ReadWrite)
        .map_err(|e| Failure(format!("preopen: {e}")))?
        .build();
    let mut store = Store::new(&engine, ctx);
    let mut linker = Linker::new(&engine);
    add_to_linker(&mut linker, |c: &mut WasiCtx| c).map_err(|e| Failure(e.to_string()))?;
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| Failure(format!("shim instantiation: {e}")))?;
    let memory = instance
        .get_memory(&store, "memory")
        .ok_or_else(|| Failure("shim has no memory".into()))?;
    let mut g = Guest {
        store,
        instance,
        memory,
    };

    let vocab = vocabulary(&layout);
    let mut u = Unstructured::new(data);
    let mut fds = vec![PREOPEN_FD];
    let mut ops = Vec::new();
    let mut leaks = Vec::new();
    while ops.len() < MAX_OPS && !u.is_empty() {
        let Some(op) = decode_op(&mut u, &vocab, &fds) else {
            break;
        };
        run_op(&mut g, &op, &mut fds, &mut leaks)?;
        ops.push(op);
        if let Some(what) = leaks.first() {
            fail!("guest read a secret from outside the preopen ({what}) after {ops:#?}");
        }
    }
    drop(g);

    let after = layout
        .snapshot()
        .map_err(|e| Failure(format!("snapshot: {e}")))?;
    if before != after {
        let mut diff = String::new();
        for (k, v) in &before {
            match after.get(k) {
                None => diff += &format!("  removed {k:?}: {v}\n"),
                Some(w) if w != v => diff += &format!("  changed {k:?}: {v}\n       now: {w}\n"),
                _ => {}
            }
        }
        for (k, v) in &after {
            if !before.contains_key(k) {
                diff += &format!("  created {k:?}: {v}\n");
            }
        }
        fail!("the host tree outside the preopen changed:\n{diff}after {ops:#?}");
    }
    if new_names_present(parent.as_deref()) != outside_names_before {
        fail!("a file appeared next to the temporary root or at / after {ops:#?}");
    }
    Ok(())
}

fn new_names_present(parent: Option<&Path>) -> Vec<bool> {
    let mut out = Vec::new();
    for name in NEW_NAMES {
        for base in [parent, Some(Path::new("/"))].into_iter().flatten() {
            out.push(fs::symlink_metadata(base.join(name)).is_ok());
        }
    }
    out
}

fn run_op(
    g: &mut Guest,
    op: &Op,
    fds: &mut Vec<i32>,
    leaks: &mut Vec<String>,
) -> Result<(), Failure> {
    let lookup = |follow: bool| Val::I32(i32::from(follow));
    match op {
        Op::Open {
            dir,
            follow,
            path,
            oflags,
            rights,
            fdflags,
        } => {
            let (p, l) = g.path(PATH_A, path)?;
            let errno = g.call(
                "path_open",
                &[
                    Val::I32(*dir),
                    lookup(*follow),
                    p,
                    l,
                    Val::I32(*oflags),
                    Val::I64(*rights),
                    Val::I64(*rights),
                    Val::I32(*fdflags),
                    Val::I32(OUT as i32),
                ],
            )?;
            if errno == 0 {
                fds.push(g.u32_at(OUT) as i32);
            }
        }
        Op::Mkdir { dir, path } => {
            let (p, l) = g.path(PATH_A, path)?;
            g.call("path_create_directory", &[Val::I32(*dir), p, l])?;
        }
        Op::Unlink { dir, path } => {
            let (p, l) = g.path(PATH_A, path)?;
            g.call("path_unlink_file", &[Val::I32(*dir), p, l])?;
        }
        Op::Rmdir { dir, path } => {
            let (p, l) = g.path(PATH_A, path)?;
            g.call("path_remove_directory", &[Val::I32(*dir), p, l])?;
        }
        Op::Rename {
            dir,
            path,
            dir2,
            path2,
        } => {
            let (p, l) = g.path(PATH_A, path)?;
            let (p2, l2) = g.path(PATH_B, path2)?;
            g.call(
                "path_rename",
                &[Val::I32(*dir), p, l, Val::I32(*dir2), p2, l2],
            )?;
        }
        Op::Symlink { target, dir, path } => {
            let (p, l) = g.path(PATH_A, target)?;
            let (p2, l2) = g.path(PATH_B, path)?;
            g.call("path_symlink", &[p, l, Val::I32(*dir), p2, l2])?;
        }
        Op::Readlink { dir, path } => {
            let (p, l) = g.path(PATH_A, path)?;
            let errno = g.call(
                "path_readlink",
                &[
                    Val::I32(*dir),
                    p,
                    l,
                    Val::I32(BUF as i32),
                    Val::I32(BUF_LEN as i32),
                    Val::I32(OUT as i32),
                ],
            )?;
            if errno == 0 {
                let n = g.u32_at(OUT).min(BUF_LEN);
                check_leak(&g.get(BUF, n), "path_readlink", leaks);
            }
        }
        Op::Stat { dir, follow, path } => {
            let (p, l) = g.path(PATH_A, path)?;
            g.call(
                "path_filestat_get",
                &[Val::I32(*dir), lookup(*follow), p, l, Val::I32(BUF as i32)],
            )?;
        }
        Op::SetTimes {
            dir,
            follow,
            path,
            mtime,
        } => {
            let (p, l) = g.path(PATH_A, path)?;
            // fst_mtim (4): set the modification time to `mtime`.
            g.call(
                "path_filestat_set_times",
                &[
                    Val::I32(*dir),
                    lookup(*follow),
                    p,
                    l,
                    Val::I64(0),
                    Val::I64(*mtime),
                    Val::I32(4),
                ],
            )?;
        }
        Op::Link {
            dir,
            follow,
            path,
            dir2,
            path2,
        } => {
            let (p, l) = g.path(PATH_A, path)?;
            let (p2, l2) = g.path(PATH_B, path2)?;
            g.call(
                "path_link",
                &[
                    Val::I32(*dir),
                    lookup(*follow),
                    p,
                    l,
                    Val::I32(*dir2),
                    p2,
                    l2,
                ],
            )?;
        }
        Op::Read { fd, len } => {
            g.put(IOV, &[BUF.to_le_bytes(), len.to_le_bytes()].concat())?;
            let errno = g.call(
                "fd_read",
                &[
                    Val::I32(*fd),
                    Val::I32(IOV as i32),
                    Val::I32(1),
                    Val::I32(OUT as i32),
                ],
            )?;
            if errno == 0 {
                let n = g.u32_at(OUT).min(*len);
                check_leak(&g.get(BUF, n), "fd_read", leaks);
            }
        }
        Op::Write { fd, data } => {
            g.put(BUF, data)?;
            g.put(
                IOV,
                &[BUF.to_le_bytes(), (data.len() as u32).to_le_bytes()].concat(),
            )?;
            g.call(
                "fd_write",
                &[
                    Val::I32(*fd),
                    Val::I32(IOV as i32),
                    Val::I32(1),
                    Val::I32(OUT as i32),
                ],
            )?;
        }
        Op::Truncate { fd, size } => {
            g.call("fd_filestat_set_size", &[Val::I32(*fd), Val::I64(*size)])?;
        }
        Op::Close { fd } => {
            if g.call("fd_close", &[Val::I32(*fd)])? == 0 {
                fds.retain(|f| f != fd);
                if fds.is_empty() {
                    fds.push(PREOPEN_FD);
                }
            }
        }
        Op::Readdir { fd } => {
            let errno = g.call(
                "fd_readdir",
                &[
                    Val::I32(*fd),
                    Val::I32(BUF as i32),
                    Val::I32(BUF_LEN as i32),
                    Val::I64(0),
                    Val::I32(OUT as i32),
                ],
            )?;
            if errno == 0 {
                let n = g.u32_at(OUT).min(BUF_LEN);
                check_leak(&g.get(BUF, n), "fd_readdir", leaks);
            }
        }
    }
    Ok(())
}

fn check_leak(bytes: &[u8], what: &str, leaks: &mut Vec<String>) {
    if bytes.windows(SECRET.len()).any(|w| w == SECRET) {
        leaks.push(format!(
            "{what} returned {:?}",
            String::from_utf8_lossy(bytes)
        ));
    }
}
