//! Capability tests: what a guest gets with nothing granted, read-only refusals, escapes,
//! bad pointers, virtual clocks, seeded random, in-memory stdio and directories, audit.
//!
//! The guest is a generated module that imports every preview1 function and exports a
//! wrapper `w_NAME` for each, so the tests call WASI exactly as a guest would (from wasm,
//! with the guest's memory) but with arguments chosen here.

use nanoproc_engine::{Engine, Instance, Linker, Memory, Module, Store, Val};
use nanoproc_wasi::{
    add_to_linker, AuditLevel, AuditSink, Clock, DirPerms, Errno, I32Exit, Random, SharedBuffer,
    Stdio, VirtualDir, WasiCtx, WasiCtxBuilder,
};
use std::path::PathBuf;
use std::time::Duration;

/// Every preview1 function: name and parameter types (`i` i32, `I` i64); all return i32
/// except `proc_exit`.
const FUNCS: &[(&str, &str)] = &[
    ("args_get", "ii"),
    ("args_sizes_get", "ii"),
    ("environ_get", "ii"),
    ("environ_sizes_get", "ii"),
    ("clock_res_get", "ii"),
    ("clock_time_get", "iIi"),
    ("fd_advise", "iIIi"),
    ("fd_allocate", "iII"),
    ("fd_close", "i"),
    ("fd_datasync", "i"),
    ("fd_fdstat_get", "ii"),
    ("fd_fdstat_set_flags", "ii"),
    ("fd_fdstat_set_rights", "iII"),
    ("fd_filestat_get", "ii"),
    ("fd_filestat_set_size", "iI"),
    ("fd_filestat_set_times", "iIIi"),
    ("fd_pread", "iiiIi"),
    ("fd_prestat_get", "ii"),
    ("fd_prestat_dir_name", "iii"),
    ("fd_pwrite", "iiiIi"),
    ("fd_read", "iiii"),
    ("fd_readdir", "iiiIi"),
    ("fd_renumber", "ii"),
    ("fd_seek", "iIii"),
    ("fd_sync", "i"),
    ("fd_tell", "ii"),
    ("fd_write", "iiii"),
    ("path_create_directory", "iii"),
    ("path_filestat_get", "iiiii"),
    ("path_filestat_set_times", "iiiiIIi"),
    ("path_link", "iiiiiii"),
    ("path_open", "iiiiiIIii"),
    ("path_readlink", "iiiiii"),
    ("path_remove_directory", "iii"),
    ("path_rename", "iiiiii"),
    ("path_symlink", "iiiii"),
    ("path_unlink_file", "iii"),
    ("poll_oneoff", "iiii"),
    ("proc_raise", "i"),
    ("random_get", "ii"),
    ("sched_yield", ""),
    ("sock_accept", "iii"),
    ("sock_recv", "iiiiii"),
    ("sock_send", "iiiii"),
    ("sock_shutdown", "ii"),
];

fn guest_wat() -> String {
    let mut wat = String::from("(module\n");
    let ty = |c: char| if c == 'I' { "i64" } else { "i32" };
    for (name, params) in FUNCS {
        let ps: Vec<&str> = params.chars().map(ty).collect();
        wat.push_str(&format!(
            "  (import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} (param {}) (result i32)))\n",
            ps.join(" ")
        ));
    }
    wat.push_str(
        "  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $proc_exit (param i32)))\n",
    );
    for (name, params) in FUNCS {
        let ps: Vec<&str> = params.chars().map(ty).collect();
        let gets: String = (0..ps.len()).map(|i| format!("(local.get {i}) ")).collect();
        wat.push_str(&format!(
            "  (func (export \"w_{name}\") (param {}) (result i32) (call ${name} {gets}))\n",
            ps.join(" ")
        ));
    }
    wat.push_str("  (func (export \"w_proc_exit\") (param i32) (call $proc_exit (local.get 0)))\n");
    wat.push_str("  (memory (export \"memory\") 1))\n");
    wat
}

struct Guest {
    store: Store<WasiCtx>,
    instance: Instance,
    memory: Memory,
}

/// Scratch memory layout used by the helpers.
const OUT: u32 = 0; // results written by WASI
const PATH: u32 = 1024; // first path argument
const PATH2: u32 = 2048; // second path argument
const IOV: u32 = 3072; // one iovec
const BUF: u32 = 4096; // data buffer

impl Guest {
    fn new(ctx: WasiCtx) -> Guest {
        let engine = Engine::default();
        let module = Module::new(&engine, guest_wat()).expect("guest compiles");
        let mut store = Store::new(&engine, ctx);
        let mut linker = Linker::new(&engine);
        add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx).expect("add_to_linker");
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("instantiate");
        let memory = instance.get_memory(&store, "memory").expect("memory");
        Guest {
            store,
            instance,
            memory,
        }
    }

    /// Calls `name` and returns its errno.
    fn call(&mut self, name: &str, args: &[Val]) -> Errno {
        let f = self
            .instance
            .get_func(&self.store, &format!("w_{name}"))
            .expect("wrapper");
        let mut out = [Val::I32(0)];
        f.call(&mut self.store, args, &mut out).expect("no trap");
        match out[0] {
            Val::I32(e) => Errno(e as u16),
            _ => unreachable!(),
        }
    }

    fn write(&mut self, ptr: u32, bytes: &[u8]) {
        self.memory
            .write(&mut self.store, ptr as usize, bytes)
            .expect("in bounds");
    }

    fn read(&self, ptr: u32, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        self.memory
            .read(&self.store, ptr as usize, &mut buf)
            .expect("in bounds");
        buf
    }

    fn u32(&self, ptr: u32) -> u32 {
        u32::from_le_bytes(self.read(ptr, 4).try_into().unwrap())
    }

    fn u64(&self, ptr: u32) -> u64 {
        u64::from_le_bytes(self.read(ptr, 8).try_into().unwrap())
    }

    fn path(&mut self, at: u32, path: &str) -> [Val; 2] {
        self.write(at, path.as_bytes());
        [Val::I32(at as i32), Val::I32(path.len() as i32)]
    }

    /// `path_open` relative to `dir`; the new fd or the errno.
    fn open(
        &mut self,
        dir: i32,
        path: &str,
        oflags: i32,
        rights: i64,
        fdflags: i32,
    ) -> Result<i32, Errno> {
        let [p, l] = self.path(PATH, path);
        let e = self.call(
            "path_open",
            &[
                Val::I32(dir),
                Val::I32(1),
                p,
                l,
                Val::I32(oflags),
                Val::I64(rights),
                Val::I64(rights),
                Val::I32(fdflags),
                Val::I32(OUT as i32),
            ],
        );
        if e == Errno::SUCCESS {
            Ok(self.u32(OUT) as i32)
        } else {
            Err(e)
        }
    }

    fn fd_write(&mut self, fd: i32, data: &[u8]) -> Errno {
        self.write(BUF, data);
        self.write(IOV, &BUF.to_le_bytes());
        self.write(IOV + 4, &(data.len() as u32).to_le_bytes());
        self.call(
            "fd_write",
            &[
                Val::I32(fd),
                Val::I32(IOV as i32),
                Val::I32(1),
                Val::I32(OUT as i32),
            ],
        )
    }

    fn fd_read(&mut self, fd: i32, len: u32) -> Result<Vec<u8>, Errno> {
        self.write(IOV, &BUF.to_le_bytes());
        self.write(IOV + 4, &len.to_le_bytes());
        let e = self.call(
            "fd_read",
            &[
                Val::I32(fd),
                Val::I32(IOV as i32),
                Val::I32(1),
                Val::I32(OUT as i32),
            ],
        );
        if e != Errno::SUCCESS {
            return Err(e);
        }
        let n = self.u32(OUT) as usize;
        Ok(self.read(BUF, n))
    }

    /// A path-only call (`path_create_directory`, `path_unlink_file`, ...).
    fn path_call(&mut self, name: &str, dir: i32, path: &str) -> Errno {
        let [p, l] = self.path(PATH, path);
        self.call(name, &[Val::I32(dir), p, l])
    }
}

const FD_READ: i64 = 1 << 1;
const FD_WRITE: i64 = 1 << 6;
const CREAT: i32 = 1;
const TRUNC: i32 = 8;

/// A fresh host directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("nanoproc-wasi-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sandbox")).unwrap();
        Scratch(dir)
    }

    fn sandbox(&self) -> PathBuf {
        self.0.join("sandbox")
    }

    /// Every path below the scratch root with its contents, to compare before/after.
    fn snapshot(&self) -> Vec<(String, Option<Vec<u8>>)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(String, Option<Vec<u8>>)>) {
            let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let p = e.path();
                let ty = e.file_type().unwrap();
                if ty.is_dir() {
                    out.push((p.display().to_string(), None));
                    walk(&p, out);
                } else if ty.is_symlink() {
                    out.push((
                        p.display().to_string(),
                        Some(
                            std::fs::read_link(&p)
                                .unwrap()
                                .into_os_string()
                                .into_encoded_bytes(),
                        ),
                    ));
                } else {
                    out.push((p.display().to_string(), Some(std::fs::read(&p).unwrap())));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &mut out);
        out
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn nothing_granted_by_default() {
    let mut g = Guest::new(WasiCtxBuilder::new().build());
    // No args, no environment.
    assert_eq!(
        g.call("args_sizes_get", &[Val::I32(0), Val::I32(4)]),
        Errno::SUCCESS
    );
    assert_eq!((g.u32(0), g.u32(4)), (0, 0));
    assert_eq!(
        g.call("environ_sizes_get", &[Val::I32(0), Val::I32(4)]),
        Errno::SUCCESS
    );
    assert_eq!((g.u32(0), g.u32(4)), (0, 0));
    // No preopens: fd 3 is not a directory the guest holds.
    assert_eq!(
        g.call("fd_prestat_get", &[Val::I32(3), Val::I32(0)]),
        Errno::BADF
    );
    assert_eq!(g.open(3, "etc/passwd", 0, FD_READ, 0), Err(Errno::BADF));
    assert_eq!(g.path_call("path_create_directory", 3, "x"), Errno::BADF);
    // Guessing descriptors finds nothing.
    for fd in 3..=1024 {
        assert_eq!(g.fd_read(fd, 16), Err(Errno::BADF), "fd {fd}");
        assert_eq!(g.fd_write(fd, b"x"), Errno::BADF, "fd {fd}");
        assert_eq!(
            g.call("fd_prestat_get", &[Val::I32(fd), Val::I32(0)]),
            Errno::BADF
        );
        assert_eq!(
            g.call("fd_filestat_get", &[Val::I32(fd), Val::I32(0)]),
            Errno::BADF
        );
    }
    // Null stdio: stdin is empty, stdout swallows writes.
    assert_eq!(g.fd_read(0, 16), Ok(Vec::new()));
    assert_eq!(g.fd_write(1, b"hidden"), Errno::SUCCESS);
    // Sockets: none exist.
    assert_eq!(
        g.call("sock_shutdown", &[Val::I32(1), Val::I32(0)]),
        Errno::NOTSOCK
    );
    assert_eq!(
        g.call("sock_accept", &[Val::I32(9), Val::I32(0), Val::I32(0)]),
        Errno::BADF
    );
    assert_eq!(g.call("proc_raise", &[Val::I32(9)]), Errno::NOSYS);
}

#[test]
fn args_and_env_are_exactly_what_was_granted() {
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .args(["prog", "a b"])
            .env("K", "v")
            .build(),
    );
    assert_eq!(
        g.call("args_sizes_get", &[Val::I32(0), Val::I32(4)]),
        Errno::SUCCESS
    );
    assert_eq!((g.u32(0), g.u32(4)), (2, 9));
    assert_eq!(
        g.call("args_get", &[Val::I32(100), Val::I32(200)]),
        Errno::SUCCESS
    );
    assert_eq!((g.u32(100), g.u32(104)), (200, 205));
    assert_eq!(g.read(200, 9), b"prog\0a b\0");
    assert_eq!(
        g.call("environ_get", &[Val::I32(100), Val::I32(200)]),
        Errno::SUCCESS
    );
    assert_eq!(g.read(200, 4), b"K=v\0");
}

#[test]
fn bad_pointers_are_fault() {
    let mut g = Guest::new(WasiCtxBuilder::new().arg("prog").build());
    let end = 65536;
    let cases: Vec<(&str, Vec<Val>)> = vec![
        ("args_sizes_get", vec![Val::I32(end - 2), Val::I32(0)]),
        ("args_get", vec![Val::I32(-16), Val::I32(0)]),
        ("args_get", vec![Val::I32(0), Val::I32(end - 2)]),
        (
            "clock_time_get",
            vec![Val::I32(0), Val::I64(0), Val::I32(end - 4)],
        ),
        ("random_get", vec![Val::I32(end - 10), Val::I32(11)]),
        ("random_get", vec![Val::I32(-1), Val::I32(-1)]),
        (
            "fd_write",
            vec![Val::I32(1), Val::I32(end), Val::I32(1), Val::I32(0)],
        ),
        (
            "fd_write",
            vec![Val::I32(1), Val::I32(0), Val::I32(0x2000_0000), Val::I32(0)],
        ),
        ("fd_fdstat_get", vec![Val::I32(1), Val::I32(end - 8)]),
        (
            "poll_oneoff",
            vec![Val::I32(end - 10), Val::I32(0), Val::I32(1), Val::I32(0)],
        ),
    ];
    for (name, args) in cases {
        assert_eq!(g.call(name, &args), Errno::FAULT, "{name}{args:?}");
    }
    // An iovec whose buffer is out of bounds.
    g.write(IOV, &(end as u32 - 4).to_le_bytes());
    g.write(IOV + 4, &8u32.to_le_bytes());
    assert_eq!(
        g.call(
            "fd_write",
            &[Val::I32(1), Val::I32(IOV as i32), Val::I32(1), Val::I32(0)]
        ),
        Errno::FAULT
    );
    // Invalid UTF-8 in a path.
    g.write(PATH, &[0xff, 0xfe]);
    let e = g.call(
        "path_create_directory",
        &[Val::I32(3), Val::I32(PATH as i32), Val::I32(2)],
    );
    assert!(e == Errno::ILSEQ || e == Errno::BADF, "{e}");
}

#[test]
fn read_only_preopen_refuses_every_change() {
    let s = Scratch::new("ro");
    std::fs::write(s.sandbox().join("file"), b"data").unwrap();
    std::fs::create_dir(s.sandbox().join("sub")).unwrap();
    let before = s.snapshot();
    let audit = SharedBuffer::new();
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .preopened_dir(s.sandbox(), "/sandbox", DirPerms::ReadOnly)
            .unwrap()
            .audit(AuditSink::new(audit.clone(), AuditLevel::Denials))
            .build(),
    );
    // Reading works.
    let fd = g.open(3, "file", 0, FD_READ, 0).expect("open for reading");
    assert_eq!(g.fd_read(fd, 100), Ok(b"data".to_vec()));
    assert_eq!(g.fd_write(fd, b"x"), Errno::BADF);
    assert_eq!(
        g.call("fd_filestat_set_size", &[Val::I32(fd), Val::I64(0)]),
        Errno::PERM
    );
    assert_eq!(
        g.call(
            "fd_filestat_set_times",
            &[Val::I32(fd), Val::I64(0), Val::I64(0), Val::I32(1 | 4)]
        ),
        Errno::PERM
    );
    // Every change is refused.
    assert_eq!(g.open(3, "file", 0, FD_WRITE, 0), Err(Errno::PERM));
    assert_eq!(g.open(3, "file", TRUNC, FD_READ, 0), Err(Errno::PERM));
    assert_eq!(g.open(3, "new", CREAT, FD_READ, 0), Err(Errno::PERM));
    assert_eq!(g.open(3, "file", 0, FD_READ, 1), Err(Errno::PERM)); // append
    assert_eq!(g.path_call("path_create_directory", 3, "d"), Errno::PERM);
    assert_eq!(g.path_call("path_remove_directory", 3, "sub"), Errno::PERM);
    assert_eq!(g.path_call("path_unlink_file", 3, "file"), Errno::PERM);
    let [p, l] = g.path(PATH, "file");
    let [p2, l2] = g.path(PATH2, "renamed");
    assert_eq!(
        g.call("path_rename", &[Val::I32(3), p, l, Val::I32(3), p2, l2]),
        Errno::PERM
    );
    assert_eq!(
        g.call(
            "path_link",
            &[Val::I32(3), Val::I32(0), p, l, Val::I32(3), p2, l2]
        ),
        Errno::PERM
    );
    assert_eq!(
        g.call("path_symlink", &[p, l, Val::I32(3), p2, l2]),
        Errno::PERM
    );
    assert_eq!(
        g.call(
            "path_filestat_set_times",
            &[
                Val::I32(3),
                Val::I32(0),
                p,
                l,
                Val::I64(0),
                Val::I64(0),
                Val::I32(2 | 8)
            ]
        ),
        Errno::PERM
    );
    assert_eq!(s.snapshot(), before, "the host directory is unchanged");
    let log = audit.to_string_lossy();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 12, "every denial is audited:\n{log}");
    assert!(lines.iter().all(|l| l.starts_with('{') && l.ends_with('}')));
    assert!(log.contains("\"function\":\"path_unlink_file\",\"fd\":3,\"path\":\"file\",\"errno\":\"perm\",\"code\":63"), "{log}");
}

#[test]
fn escapes_are_refused_and_nothing_outside_is_touched() {
    let s = Scratch::new("escape");
    std::fs::write(s.0.join("secret"), b"outside").unwrap();
    std::fs::write(s.sandbox().join("inside"), b"in").unwrap();
    std::fs::create_dir(s.sandbox().join("sub")).unwrap();
    std::os::unix::fs::symlink("../secret", s.sandbox().join("link-out")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", s.sandbox().join("link-abs")).unwrap();
    std::os::unix::fs::symlink("loop", s.sandbox().join("loop")).unwrap();
    let before = s.snapshot();
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .preopened_dir(s.sandbox(), "/", DirPerms::ReadWrite)
            .unwrap()
            .build(),
    );
    let refused = |e: Errno| matches!(e, Errno::NOTCAPABLE | Errno::PERM | Errno::ACCES);
    for path in [
        "../secret",
        "/etc/passwd",
        "link-out",
        "link-abs",
        "./../sandbox/inside",
        "sub/../../secret",
        "/proc/self/environ",
    ] {
        let e = g.open(3, path, 0, FD_READ, 0).unwrap_err();
        assert!(refused(e), "{path}: {e}");
    }
    assert_eq!(g.open(3, "loop", 0, FD_READ, 0), Err(Errno::LOOP));
    // A file is not a directory to walk through.
    assert_eq!(
        g.open(3, "inside/../inside", 0, FD_READ, 0),
        Err(Errno::NOTDIR)
    );
    // Zip-Slip style writes.
    for path in ["../x", "../../x", "sub/../../x", "/x"] {
        let e = g.open(3, path, CREAT, FD_WRITE, 0).unwrap_err();
        assert!(refused(e) || e == Errno::NOENT, "{path}: {e}");
        let e = g.path_call("path_create_directory", 3, path);
        assert!(refused(e) || e == Errno::NOENT, "{path}: {e}");
    }
    // Rename and link targets outside.
    let [p, l] = g.path(PATH, "inside");
    let [p2, l2] = g.path(PATH2, "../stolen");
    let e = g.call("path_rename", &[Val::I32(3), p, l, Val::I32(3), p2, l2]);
    assert!(refused(e), "{e}");
    let e = g.call(
        "path_link",
        &[Val::I32(3), Val::I32(0), p, l, Val::I32(3), p2, l2],
    );
    assert!(refused(e), "{e}");
    let [p, l] = g.path(PATH, "../secret");
    let [p2, l2] = g.path(PATH2, "hardlink");
    let e = g.call(
        "path_link",
        &[Val::I32(3), Val::I32(0), p, l, Val::I32(3), p2, l2],
    );
    assert!(refused(e), "{e}");
    assert_eq!(s.snapshot(), before, "nothing outside (or inside) changed");
    // Inside works.
    let fd = g.open(3, "inside", 0, FD_READ, 0).unwrap();
    assert_eq!(g.fd_read(fd, 10), Ok(b"in".to_vec()));
}

#[test]
fn stdout_buffer_and_stdin_bytes() {
    let out = SharedBuffer::new();
    let err = SharedBuffer::new();
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .stdin(Stdio::Buffer(SharedBuffer::from_bytes(b"input".to_vec())))
            .stdout(Stdio::Buffer(out.clone()))
            .stderr(Stdio::Buffer(err.clone()))
            .build(),
    );
    assert_eq!(g.fd_write(1, b"hello "), Errno::SUCCESS);
    assert_eq!(g.fd_write(1, b"world"), Errno::SUCCESS);
    assert_eq!(g.fd_write(2, b"oops"), Errno::SUCCESS);
    assert_eq!(out.to_string_lossy(), "hello world");
    assert_eq!(err.contents(), b"oops");
    assert_eq!(g.fd_read(0, 3), Ok(b"inp".to_vec()));
    assert_eq!(g.fd_read(0, 10), Ok(b"ut".to_vec()));
    assert_eq!(g.fd_read(0, 10), Ok(Vec::new()));
    assert_eq!(g.fd_write(0, b"x"), Errno::BADF);
}

#[test]
fn proc_exit_is_i32exit() {
    let mut g = Guest::new(WasiCtxBuilder::new().build());
    let f = g
        .instance
        .get_typed_func::<i32, ()>(&g.store, "w_proc_exit")
        .unwrap();
    let e = f.call(&mut g.store, 42).unwrap_err();
    assert_eq!(e.downcast_ref::<I32Exit>(), Some(&I32Exit(42)));
}

fn deterministic_run() -> (Vec<u64>, Vec<u8>) {
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .wall_clock(Clock::Fixed {
                start: 1_000_000_000,
                step: Duration::from_millis(1),
            })
            .monotonic_clock(Clock::Fixed {
                start: 0,
                step: Duration::from_nanos(10),
            })
            .random(Random::Seeded(7))
            .build(),
    );
    let mut times = Vec::new();
    for id in [0, 0, 1, 1] {
        assert_eq!(
            g.call("clock_time_get", &[Val::I32(id), Val::I64(0), Val::I32(0)]),
            Errno::SUCCESS
        );
        times.push(g.u64(0));
    }
    // A 5-second sleep on the monotonic clock returns at once and moves the clock.
    let mut sub = vec![0u8; 48];
    sub[0..8].copy_from_slice(&77u64.to_le_bytes());
    sub[8] = 0; // clock
    sub[16..20].copy_from_slice(&1u32.to_le_bytes());
    sub[24..32].copy_from_slice(&5_000_000_000u64.to_le_bytes());
    g.write(BUF, &sub);
    let start = std::time::Instant::now();
    assert_eq!(
        g.call(
            "poll_oneoff",
            &[
                Val::I32(BUF as i32),
                Val::I32(BUF as i32 + 64),
                Val::I32(1),
                Val::I32(0)
            ]
        ),
        Errno::SUCCESS
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(g.u32(0), 1);
    assert_eq!(g.u64(BUF + 64), 77);
    assert_eq!(
        g.call("clock_time_get", &[Val::I32(1), Val::I64(0), Val::I32(0)]),
        Errno::SUCCESS
    );
    times.push(g.u64(0));
    assert_eq!(
        g.call("random_get", &[Val::I32(BUF as i32), Val::I32(37)]),
        Errno::SUCCESS
    );
    (times, g.read(BUF, 37))
}

#[test]
fn virtual_clock_and_seeded_random_are_deterministic() {
    let (times, random) = deterministic_run();
    assert_eq!(
        times,
        vec![1_000_000_000, 1_001_000_000, 0, 10, 5_000_000_020]
    );
    assert_ne!(random, vec![0; 37]);
    assert_eq!(deterministic_run(), (times, random));
}

#[test]
fn virtual_directory() {
    let vdir = VirtualDir::new()
        .file("greeting.txt", "hi")
        .dir("out")
        .file("deep/nested/file", "x");
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .preopened_virtual_dir("/", vdir.clone(), DirPerms::ReadWrite)
            .build(),
    );
    let fd = g.open(3, "greeting.txt", 0, FD_READ, 0).unwrap();
    assert_eq!(g.fd_read(fd, 10), Ok(b"hi".to_vec()));
    let fd = g.open(3, "out/result.txt", CREAT, FD_WRITE, 0).unwrap();
    assert_eq!(g.fd_write(fd, b"written"), Errno::SUCCESS);
    assert_eq!(vdir.read("out/result.txt"), Some(b"written".to_vec()));
    assert_eq!(
        g.open(3, "../x", CREAT, FD_WRITE, 0),
        Err(Errno::NOTCAPABLE)
    );
    assert_eq!(g.open(3, "/x", CREAT, FD_WRITE, 0), Err(Errno::NOTCAPABLE));
    assert_eq!(
        g.open(3, "deep/nested/../../greeting.txt", 0, FD_READ, 0)
            .map(|_| ()),
        Ok(())
    );
    assert_eq!(g.open(3, "missing", 0, FD_READ, 0), Err(Errno::NOENT));
    assert_eq!(
        g.path_call("path_create_directory", 3, "made"),
        Errno::SUCCESS
    );
    assert_eq!(
        g.path_call("path_remove_directory", 3, "deep"),
        Errno::NOTEMPTY
    );
    assert_eq!(
        g.path_call("path_unlink_file", 3, "greeting.txt"),
        Errno::SUCCESS
    );
    assert_eq!(
        vdir.list(""),
        Some(vec!["deep".into(), "made".into(), "out".into()])
    );
    // Read-only virtual directories refuse changes like host ones.
    let ro = VirtualDir::new().file("f", "1");
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .preopened_virtual_dir("/ro", ro.clone(), DirPerms::ReadOnly)
            .build(),
    );
    assert_eq!(g.open(3, "f", 0, FD_WRITE, 0), Err(Errno::PERM));
    assert_eq!(g.path_call("path_unlink_file", 3, "f"), Errno::PERM);
    assert_eq!(ro.read("f"), Some(b"1".to_vec()));
}

#[test]
fn virtual_directory_from_host() {
    let s = Scratch::new("vfs-load");
    std::fs::create_dir(s.sandbox().join("d")).unwrap();
    std::fs::write(s.sandbox().join("d/f"), b"loaded").unwrap();
    let before = s.snapshot();
    let vdir = VirtualDir::from_host(s.sandbox()).unwrap();
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .preopened_virtual_dir("/", vdir.clone(), DirPerms::ReadWrite)
            .build(),
    );
    let fd = g.open(3, "d/f", TRUNC, FD_WRITE, 0).unwrap();
    assert_eq!(g.fd_write(fd, b"changed"), Errno::SUCCESS);
    assert_eq!(vdir.read("d/f"), Some(b"changed".to_vec()));
    assert_eq!(s.snapshot(), before, "the host folder is untouched");
}

#[test]
fn missing_preopen_is_a_clear_error() {
    let err = WasiCtxBuilder::new()
        .preopened_dir("/definitely/not/here", "/", DirPerms::ReadOnly)
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/definitely/not/here"), "{msg}");
}

#[test]
fn audit_all_records_granted_filesystem_operations() {
    let s = Scratch::new("audit-all");
    let audit = SharedBuffer::new();
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .preopened_dir(s.sandbox(), "/", DirPerms::ReadWrite)
            .unwrap()
            .audit(AuditSink::new(audit.clone(), AuditLevel::All))
            .build(),
    );
    let fd = g.open(3, "made.txt", CREAT, FD_WRITE, 0).unwrap();
    assert_eq!(g.fd_write(fd, b"x"), Errno::SUCCESS);
    assert_eq!(
        g.open(3, "../escape", CREAT, FD_WRITE, 0)
            .map(|_| ())
            .unwrap_err(),
        Errno::NOTCAPABLE
    );
    let log = audit.to_string_lossy();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains(
            "\"function\":\"path_open\",\"fd\":3,\"path\":\"made.txt\",\"errno\":\"success\""
        ),
        "{log}"
    );
    assert!(
        lines[1].contains("\"path\":\"../escape\",\"errno\":\"notcapable\""),
        "{log}"
    );
    assert!(lines[0].starts_with("{\"time\":\"20"), "{log}");
}

#[test]
fn wasi_ctx_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<WasiCtx>();
}
