//! The escape battery, through the real `nanoproc` binary: compiled guests (guests/c/
//! escape.c, and the Zip-Slip extractor guests/{c,rust} `unzip`) try every known way out
//! of their preopens. Each attempt must fail with the right errno (the guests print them),
//! the `--audit` log must record each denial, and the host must show nothing read, created
//! or modified outside the sandbox: every test snapshots its whole host tree (types,
//! contents, sizes, link counts, modes, modification times, symlink targets) before and
//! after, and checks that the access times of the files and directories outside did not
//! move (they start at a known old instant, which the kernel's relatime updates on any
//! read).
//!
//! The library-level twin is crates/wasi/tests/capabilities.rs.

use nanoproc_tests::{guest_wasm, nanoproc_cmd, run_cmd, Run, TempDir, TempFile};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, FileTimes};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The instant every host file and directory of a test starts at (2001-09-09T01:46:40Z).
fn old() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_000_000_000)
}

/// What the host shows of one path below a test's root.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    kind: char,
    mode: u32,
    nlink: u64,
    size: u64,
    mtime: (i64, i64),
    /// A file's contents, a symlink's target.
    data: Vec<u8>,
}

/// Everything below `root` (which is included as ""), by path relative to it.
fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<String, Entry>) {
        let path = root.join(rel);
        let meta = fs::symlink_metadata(&path).unwrap();
        let ty = meta.file_type();
        let (kind, data) = if ty.is_symlink() {
            let target = fs::read_link(&path).unwrap();
            ('l', target.into_os_string().into_encoded_bytes())
        } else if ty.is_dir() {
            ('d', Vec::new())
        } else {
            ('f', fs::read(&path).unwrap())
        };
        out.insert(
            rel.display().to_string(),
            Entry {
                kind,
                mode: meta.mode(),
                nlink: meta.nlink(),
                size: meta.size(),
                mtime: (meta.mtime(), meta.mtime_nsec()),
                data,
            },
        );
        if kind == 'd' {
            for e in fs::read_dir(&path).unwrap() {
                walk(root, &rel.join(e.unwrap().file_name()), out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

/// Sets the access and modification times of every file and directory below `root` (and
/// `root` itself) to `old()`; symlinks keep theirs.
fn age(root: &Path) {
    let t = FileTimes::new().set_accessed(old()).set_modified(old());
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
        if !meta.file_type().is_symlink() {
            fs::File::open(&p).unwrap().set_times(t).unwrap();
        }
    }
}

/// Whether reading a file in the temp dir updates its access time (relatime does for an
/// access time older than the modification time or than a day; noatime never does).
fn atime_is_tracked() -> bool {
    let canary = TempFile::new(".canary", b"canary");
    age(canary.path());
    fs::read(canary.path()).unwrap();
    fs::metadata(canary.path()).unwrap().accessed().unwrap() != old()
}

/// A host tree for one test, with the checks the tests make on it.
struct Host {
    _dir: TempDir,
    root: PathBuf,
    before: BTreeMap<String, Entry>,
    /// Files and directories outside every preopen whose access time must not move.
    outside: Vec<PathBuf>,
    /// Absolute host paths the guests aim at, which must not appear.
    absent: Vec<PathBuf>,
}

impl Host {
    /// Builds a tree with `build(root)`, then records it. `outside` are paths relative to
    /// the root that no preopen covers.
    fn new(build: impl FnOnce(&Path), outside: &[&str], absent: &[&str]) -> Host {
        let dir = TempDir::new();
        let root = dir.path().to_path_buf();
        build(&root);
        age(&root);
        let before = snapshot(&root);
        // The snapshot read every file: start the access times again.
        age(&root);
        let absent: Vec<PathBuf> = absent.iter().map(PathBuf::from).collect();
        for p in &absent {
            assert!(
                fs::symlink_metadata(p).is_err(),
                "{} exists before the test: cannot check that the guest does not create it",
                p.display()
            );
        }
        Host {
            root: root.clone(),
            _dir: dir,
            before,
            outside: outside.iter().map(|p| root.join(p)).collect(),
            absent,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Nothing outside was read (access times), nothing was changed (everything else),
    /// except the paths of `changed` (relative to the root), which must now equal it
    /// (`None`: absent).
    fn assert_untouched_except(&self, changed: Vec<(String, Option<Entry>)>) {
        for p in &self.outside {
            let accessed = fs::symlink_metadata(p).unwrap().accessed().unwrap();
            assert_eq!(accessed, old(), "{} was read by the guest", p.display());
        }
        if !atime_is_tracked() {
            eprintln!("note: this filesystem does not update access times: reads unchecked");
        }
        let mut expected = BTreeMap::new();
        for (k, v) in &self.before {
            expected.insert(k.clone(), v);
        }
        for (path, entry) in &changed {
            match entry {
                Some(e) => expected.insert(path.clone(), e),
                None => expected.remove(path),
            };
        }
        let after = snapshot(&self.root);
        let after: BTreeMap<String, &Entry> = after.iter().map(|(k, v)| (k.clone(), v)).collect();
        if after != expected {
            let mut diff = String::new();
            for (k, v) in &expected {
                match after.get(k) {
                    None => diff.push_str(&format!("removed: {k}\n")),
                    Some(a) if a != v => diff.push_str(&format!("changed: {k}: {v:?} -> {a:?}\n")),
                    _ => {}
                }
            }
            for k in after.keys().filter(|k| !expected.contains_key(*k)) {
                diff.push_str(&format!("created: {k}\n"));
            }
            panic!("the host tree changed:\n{diff}");
        }
        for p in &self.absent {
            assert!(
                fs::symlink_metadata(p).is_err(),
                "{} was created on the host",
                p.display()
            );
        }
    }
}

/// `nanoproc run FLAGS... GUEST ARGS...`, with `--audit` to a fresh file; returns the run
/// and the audit log's lines parsed.
fn run_audited(
    lang: &str,
    guest: &str,
    flags: &[OsString],
    args: &[OsString],
    host_env: &[(&str, &str)],
) -> (Run, Vec<serde_json::Value>) {
    let audit = TempFile::new(".jsonl", b"");
    let mut all: Vec<OsString> = vec!["run".into(), "--audit".into(), audit.path().into()];
    all.extend(flags.iter().cloned());
    all.push(guest_wasm(lang, guest).into());
    all.extend(args.iter().cloned());
    let mut cmd = nanoproc_cmd(all);
    for (k, v) in host_env {
        cmd.env(k, v);
    }
    let run = run_cmd(&mut cmd);
    let log = fs::read_to_string(audit.path()).unwrap();
    let lines = log
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l:?} is not JSON: {e}"))
        })
        .collect();
    (run, lines)
}

fn grant(flag: &str, host: &Path, guest: &str) -> [OsString; 2] {
    [flag.into(), format!("{}::{guest}", host.display()).into()]
}

/// Finds, from `from` on, the first audit line for `function` with `path` (`""`: a line
/// without a path) and errno `code`; returns its index.
fn find_audit(
    log: &[serde_json::Value],
    from: usize,
    function: &str,
    path: &str,
    code: i64,
) -> Option<usize> {
    (from..log.len()).find(|&i| {
        let l = &log[i];
        l["function"] == function
            && l["code"] == code
            && match path {
                "" => l.get("path").is_none(),
                p => l["path"] == p,
            }
    })
}

// ---------------------------------------------------------------------------------------
// guests/c/escape.c

/// The sandbox (`--dir`, fd 3, seen as /sb) sits three levels down so that every `..`
/// target lands in the test's own tree:
///
/// ```text
/// secret.txt                      outside
/// outer/inner/secret2.txt         outside
/// outer/inner/sibling/            outside
/// outer/inner/sb/                 --dir, fd 3: inside.txt, sub/, and symlinks out
/// ro/                             --dir-ro, fd 4: file.txt, empty/, sub/keep
/// ```
fn escape_tree(root: &Path) {
    let w = |p: &str, s: &str| fs::write(root.join(p), s).unwrap();
    let d = |p: &str| fs::create_dir_all(root.join(p)).unwrap();
    let l = |target: &str, p: &str| symlink(target, root.join(p)).unwrap();
    d("outer/inner/sb/sub");
    d("outer/inner/sibling");
    d("ro/sub");
    d("ro/empty");
    w("secret.txt", "TOP SECRET outside the sandbox\n");
    w("outer/inner/secret2.txt", "SECRET next to the sandbox\n");
    w("outer/inner/sb/inside.txt", "inside\n");
    w("ro/file.txt", "read only\n");
    w("ro/sub/keep", "keep\n");
    let sb = "outer/inner/sb";
    l("../secret2.txt", &format!("{sb}/link-out"));
    let abs = root.join("secret.txt");
    l(abs.to_str().unwrap(), &format!("{sb}/link-abs"));
    l("/etc/passwd", &format!("{sb}/link-etc"));
    l("/proc/self/root", &format!("{sb}/link-proc"));
    l("../..", &format!("{sb}/link-dir"));
    l("../link-out", &format!("{sb}/sub/chain"));
    l("loop-b", &format!("{sb}/loop-a"));
    l("loop-a", &format!("{sb}/loop-b"));
    l("self", &format!("{sb}/self"));
    l("../created-through-link", &format!("{sb}/dangling"));
}

/// An audit line: function and path.
type AuditLine = Option<(&'static str, &'static str)>;

/// Each attempt of escape.c in order: label, errno, and the audit line it must produce
/// (function and path; `""` for no path), or `None` for errors that are not denials
/// (LOOP 32, INVAL 28, FAULT 21, NOTSUP 58). `{secret}` is the host path of secret.txt.
/// NOTCAPABLE 76: outside the preopen; PERM 63: a change under `--dir-ro`; BADF 8: a
/// descriptor without the right.
const ESCAPES: &[(&str, i32, AuditLine)] = &[
    // `..`, absolute paths, /proc
    ("dotdot", 76, Some(("path_open", "../secret2.txt"))),
    (
        "dotdot-deep",
        76,
        Some(("path_open", "../../../secret.txt")),
    ),
    (
        "dotdot-sub",
        76,
        Some(("path_open", "sub/../../secret2.txt")),
    ),
    ("dotdot-dot", 76, Some(("path_open", "./../secret2.txt"))),
    ("dotdot-dir", 76, Some(("path_open", ".."))),
    ("dotdot-ro", 76, Some(("path_open", "../secret.txt"))),
    ("abs-etc", 76, Some(("path_open", "/etc/passwd"))),
    ("abs-host", 76, Some(("path_open", "{secret}"))),
    ("abs-root-dir", 76, Some(("path_open", "/"))),
    ("proc-self", 76, Some(("path_open", "/proc/self/environ"))),
    (
        "proc-self-rel",
        76,
        Some((
            "path_open",
            "../../../../../../../../../../proc/self/environ",
        )),
    ),
    // symlinks out, loops
    ("symlink-out", 76, Some(("path_open", "link-out"))),
    ("symlink-abs", 76, Some(("path_open", "link-abs"))),
    ("symlink-etc", 76, Some(("path_open", "link-etc"))),
    (
        "symlink-proc-root",
        76,
        Some(("path_open", "link-proc/etc/passwd")),
    ),
    (
        "symlink-dir",
        76,
        Some(("path_open", "link-dir/secret.txt")),
    ),
    ("symlink-chain", 76, Some(("path_open", "sub/chain"))),
    ("symlink-opendir", 76, Some(("path_open", "link-dir"))),
    ("symlink-loop", 32, None),
    ("symlink-self", 32, None),
    ("symlink-loop-dir", 32, None),
    (
        "stat-dotdot",
        76,
        Some(("path_filestat_get", "../secret2.txt")),
    ),
    (
        "stat-symlink-out",
        76,
        Some(("path_filestat_get", "link-out")),
    ),
    ("stat-abs", 76, Some(("path_filestat_get", "/etc/passwd"))),
    (
        "readlink-via-link-dir",
        76,
        Some(("path_readlink", "link-dir/inner/sb/link-out")),
    ),
    // creating, truncating, changing outside
    ("create-dotdot", 76, Some(("path_open", "../x"))),
    ("create-deep", 76, Some(("path_open", "../../x"))),
    ("create-sub", 76, Some(("path_open", "sub/../../x"))),
    ("create-abs", 76, Some(("path_open", "/etc/x"))),
    ("create-via-link-dir", 76, Some(("path_open", "link-dir/x"))),
    ("create-via-dangling", 76, Some(("path_open", "dangling"))),
    ("trunc-via-link", 76, Some(("path_open", "link-out"))),
    (
        "mkdir-dotdot",
        76,
        Some(("path_create_directory", "../newdir")),
    ),
    ("mkdir-abs", 76, Some(("path_create_directory", "/newdir"))),
    (
        "mkdir-via-link-dir",
        76,
        Some(("path_create_directory", "link-dir/newdir")),
    ),
    (
        "rmdir-dotdot",
        76,
        Some(("path_remove_directory", "../sibling")),
    ),
    (
        "unlink-dotdot",
        76,
        Some(("path_unlink_file", "../secret2.txt")),
    ),
    (
        "unlink-via-link-dir",
        76,
        Some(("path_unlink_file", "link-dir/inner/secret2.txt")),
    ),
    (
        "settimes-dotdot",
        76,
        Some(("path_filestat_set_times", "../secret2.txt")),
    ),
    (
        "settimes-symlink-out",
        76,
        Some(("path_filestat_set_times", "link-out")),
    ),
    // hard links and renames (the audit line's path is the source)
    (
        "link-from-dotdot",
        76,
        Some(("path_link", "../secret2.txt")),
    ),
    ("link-to-dotdot", 76, Some(("path_link", "inside.txt"))),
    // Following a symlink for a hard link's source is not supported at all (as wasmtime).
    ("link-follow-symlink-out", 28, None),
    ("link-to-abs", 76, Some(("path_link", "inside.txt"))),
    ("rename-to-dotdot", 76, Some(("path_rename", "inside.txt"))),
    (
        "rename-from-dotdot",
        76,
        Some(("path_rename", "../secret2.txt")),
    ),
    (
        "rename-via-link-dir",
        76,
        Some(("path_rename", "inside.txt")),
    ),
    ("rename-to-abs", 76, Some(("path_rename", "inside.txt"))),
    // bad pointers
    ("fault-path", 21, None),
    ("fault-out", 21, None),
    ("fault-out-create", 21, None),
    // writes through --dir-ro
    ("ro-open-write", 63, Some(("path_open", "file.txt"))),
    ("ro-open-rw", 63, Some(("path_open", "file.txt"))),
    ("ro-create", 63, Some(("path_open", "new.txt"))),
    ("ro-create-read", 63, Some(("path_open", "new.txt"))),
    ("ro-trunc", 63, Some(("path_open", "file.txt"))),
    ("ro-append", 63, Some(("path_open", "file.txt"))),
    ("ro-mkdir", 63, Some(("path_create_directory", "newdir"))),
    ("ro-rmdir", 63, Some(("path_remove_directory", "empty"))),
    ("ro-unlink", 63, Some(("path_unlink_file", "file.txt"))),
    ("ro-rename", 63, Some(("path_rename", "file.txt"))),
    ("ro-rename-out", 63, Some(("path_rename", "file.txt"))),
    ("ro-rename-in", 63, Some(("path_rename", "inside.txt"))),
    ("ro-link", 63, Some(("path_link", "file.txt"))),
    ("ro-link-out", 63, Some(("path_link", "file.txt"))),
    ("ro-link-in", 63, Some(("path_link", "inside.txt"))),
    ("ro-symlink", 63, Some(("path_symlink", "ln"))),
    (
        "ro-settimes",
        63,
        Some(("path_filestat_set_times", "file.txt")),
    ),
    ("ro-dir-rights", 58, None),
    ("ro-open-read", 0, None),
    ("ro-fd-write", 8, Some(("fd_write", ""))),
    ("ro-fd-pwrite", 8, Some(("fd_pwrite", ""))),
    ("ro-fd-set-size", 63, Some(("fd_filestat_set_size", ""))),
    ("ro-fd-set-times", 63, Some(("fd_filestat_set_times", ""))),
    ("ro-fd-allocate", 63, Some(("fd_allocate", ""))),
    ("ro-fd-rights", 58, None),
    ("ro-fd-write-after", 8, Some(("fd_write", ""))),
];

/// The second path of the link / rename / symlink attempts, which the audit line records
/// as `target`.
const TARGETS: &[(&str, &str)] = &[
    ("link-from-dotdot", "hard"),
    ("link-to-dotdot", "../hard"),
    ("link-to-abs", "/tmp/hard"),
    ("rename-to-dotdot", "../moved"),
    ("rename-from-dotdot", "mine"),
    ("rename-via-link-dir", "link-dir/moved"),
    ("rename-to-abs", "/tmp/moved"),
    ("ro-rename", "renamed"),
    ("ro-rename-out", "stolen"),
    ("ro-rename-in", "planted"),
    ("ro-link", "hard"),
    ("ro-link-out", "ro-hard"),
    ("ro-link-in", "planted"),
    ("ro-symlink", "file.txt"),
];

/// The calls escape.c makes on each descriptor it guesses (fd_prestat_get is one more,
/// but the normal preopen enumeration ending in BADF is not audited).
const GUESS_CALLS: &[&str] = &[
    "fd_fdstat_get",
    "fd_read",
    "fd_write",
    "fd_filestat_get",
    "fd_readdir",
    "path_open",
    "path_open",
    "path_create_directory",
    "fd_close",
];

#[test]
fn escape_battery_fails_every_attempt_and_touches_nothing() {
    let host = Host::new(
        escape_tree,
        &[
            "",
            "secret.txt",
            "outer",
            "outer/inner",
            "outer/inner/secret2.txt",
            "outer/inner/sibling",
        ],
        &["/etc/x", "/newdir", "/tmp/hard", "/tmp/moved"],
    );
    let secret = host.path("secret.txt").display().to_string();
    let sb = grant("--dir", &host.path("outer/inner/sb"), "/sb");
    let ro = grant("--dir-ro", &host.path("ro"), "/ro");
    let flags = [
        sb[0].clone(),
        sb[1].clone(),
        ro[0].clone(),
        ro[1].clone(),
        "--env".into(),
        "GRANTED=yes".into(),
    ];
    let (run, log) = run_audited(
        "c",
        "escape",
        &flags,
        &[secret.clone().into(), "extra arg".into()],
        &[("NANOPROC_HOST_SECRET", "hunter2"), ("HOME", "/root")],
    );
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stderr, "");

    // Every attempt, in order, with its errno.
    let lines: Vec<&str> = run.stdout.lines().collect();
    let attempts = &lines[..ESCAPES.len().min(lines.len())];
    let expected: Vec<String> = ESCAPES
        .iter()
        .map(|(label, errno, _)| format!("{label} {errno}"))
        .collect();
    assert_eq!(attempts, expected, "full output:\n{}", run.stdout);
    for leak in ["TOP SECRET", "SECRET next", "root:", "hunter2"] {
        assert!(!run.stdout.contains(leak), "{leak} leaked:\n{}", run.stdout);
    }

    // Guessing descriptors 3..=1024 finds the two preopens only, and BADF everywhere else
    // (nothing left open by the attempts above either).
    // Args and environment: exactly what was granted.
    assert_eq!(
        lines[ESCAPES.len()..].join("\n"),
        format!(
            "fds-open 3,4\nfds-guessed-errnos 8\nenvc 1\nenv GRANTED=yes\n\
             getenv HOME (unset)\ngetenv PATH (unset)\ngetenv USER (unset)\n\
             getenv NANOPROC_HOST_SECRET (unset)\nargc 3\narg {secret}\narg extra arg"
        )
    );

    // The audit log: every denial, in order, each once.
    let mut next = 0;
    for (label, errno, audit) in ESCAPES {
        let Some((function, path)) = audit else {
            continue;
        };
        let path = path.replace("{secret}", &secret);
        let i = find_audit(&log, next, function, &path, i64::from(*errno)).unwrap_or_else(|| {
            panic!(
                "{label}: no audit line {function} {path:?} code {errno} after line {next}; \
                 log from there: {:#?}",
                &log[next..log.len().min(next + 5)]
            )
        });
        if let Some((_, target)) = TARGETS.iter().find(|(l, _)| l == label) {
            assert_eq!(log[i]["target"], *target, "{label}: {}", log[i]);
        }
        let fd = log[i]["fd"].as_i64().expect("an fd");
        assert!(fd >= 3, "{label}: {}", log[i]);
        next = i + 1;
    }
    // Then BADF for each guessed descriptor and call.
    let guessed: Vec<&serde_json::Value> = log[next..].iter().collect();
    assert_eq!(
        guessed.len(),
        1020 * GUESS_CALLS.len(),
        "one line per guess"
    );
    for (fd, calls) in (5..=1024).zip(guessed.chunks(GUESS_CALLS.len())) {
        for (line, function) in calls.iter().zip(GUESS_CALLS) {
            assert_eq!(
                (&line["function"], &line["fd"], &line["code"]),
                (
                    &serde_json::json!(function),
                    &serde_json::json!(fd),
                    &serde_json::json!(8)
                ),
                "{line}"
            );
        }
    }
    // Every line is a denial; nothing is logged for the granted read-only open.
    for line in &log {
        let code = line["code"].as_i64().unwrap();
        assert!([8, 63, 76].contains(&code), "{line}");
        assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
    }

    host.assert_untouched_except(Vec::new());
}

// ---------------------------------------------------------------------------------------
// Zip-Slip: guests/{c,rust}/unzip, a naive extractor

/// `root/outer/inner/sb` is the extraction directory; `../../x` from it is `outer/x`.
fn zip_tree(root: &Path) {
    fs::create_dir_all(root.join("outer/inner/sb")).unwrap();
    fs::write(root.join("outer/inner/secret.txt"), "outside\n").unwrap();
}

const ZIP_OUTSIDE: &[&str] = &["", "outer", "outer/inner", "outer/inner/secret.txt"];
const ZIP_ABSENT: &[&str] = &["/etc/x"];

/// The extractor's output for its built-in archive (see guests/c/unzip.c), per language:
/// the two differ only in how they create parents (C: mkdirat on each prefix; Rust:
/// `create_dir_all` of the joined path, which tries the whole parent first) and in how
/// their libraries answer a path under no preopen (`/etc/x` with `/out` granted: wasi-libc
/// NOTCAPABLE, Rust's std NOENT; the runtime never sees it).
fn zip_expected(lang: &str) -> &'static str {
    match lang {
        "c" => {
            "hello.txt: ok\ndocs/readme.txt: ok\n../../x: mkdir errno=76\n\
             /etc/x: mkdir errno=76\na/../../x: mkdir errno=76\n\
             docs/../../../x: mkdir errno=76\nup: ok\nup/x: open errno=76\n"
        }
        _ => {
            "hello.txt: ok\ndocs/readme.txt: ok\n../../x: mkdir errno=76\n\
             /etc/x: mkdir errno=44\na/../../x: mkdir errno=76\n\
             docs/../../../x: mkdir errno=76\nup: ok\nup/x: mkdir errno=20\n"
        }
    }
}

/// The audit lines the extractor's escapes produce (function, path), per language.
fn zip_denials(lang: &str) -> &'static [(&'static str, &'static str)] {
    match lang {
        "c" => &[
            ("path_create_directory", ".."),
            ("path_create_directory", "a/../.."),
            ("path_create_directory", "docs/../.."),
            ("path_open", "up/x"),
        ],
        _ => &[
            ("path_create_directory", "../.."),
            ("path_create_directory", "a/../.."),
            ("path_create_directory", "docs/../../.."),
            // create_dir_all("up") finds something that is not a directory it may see.
            ("path_filestat_get", "up"),
        ],
    }
}

/// What extraction legitimately creates inside the sandbox, checked on the host.
fn assert_extracted_inside(host: &Host, sb: &str, with_etc: bool) {
    let p = |rel: &str| host.path(&format!("{sb}/{rel}"));
    assert_eq!(fs::read_to_string(p("hello.txt")).unwrap(), "hello\n");
    assert_eq!(
        fs::read_to_string(p("docs/readme.txt")).unwrap(),
        "nested\n"
    );
    assert!(p("a").is_dir(), "`mkdir -p a/../..` made `a` inside");
    assert_eq!(fs::read_link(p("up")).unwrap(), Path::new("../.."));
    let mut names: Vec<String> = fs::read_dir(host.path(sb))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut expected = vec!["a", "docs", "hello.txt", "up"];
    if with_etc {
        expected.insert(2, "etc");
        assert_eq!(fs::read_to_string(p("etc/x")).unwrap(), "escaped\n");
    }
    assert_eq!(names, expected);
}

/// The host tree after extraction: unchanged outside the sandbox `sb` (whatever is in it
/// now was checked by `assert_extracted_inside`).
fn assert_only_sandbox_changed(host: &Host, sb: &str) {
    // Only the sandbox is read here: the access times outside are still to be checked.
    let changed = snapshot(&host.path(sb))
        .into_iter()
        .map(|(k, v)| {
            let rel = if k.is_empty() {
                sb.to_string()
            } else {
                format!("{sb}/{k}")
            };
            (rel, Some(v))
        })
        .collect();
    host.assert_untouched_except(changed);
}

#[test]
fn zip_slip_extractor_stays_inside() {
    for lang in ["c", "rust"] {
        let host = Host::new(zip_tree, ZIP_OUTSIDE, ZIP_ABSENT);
        let out = grant("--dir", &host.path("outer/inner/sb"), "/out");
        let (run, log) = run_audited(lang, "unzip", &out, &["/out".into()], &[]);
        assert_eq!(run.code, 1, "{lang}: stderr: {}", run.stderr);
        assert_eq!(run.stdout, zip_expected(lang), "{lang}");
        let denials: Vec<(&str, &str)> = log
            .iter()
            .map(|l| (l["function"].as_str().unwrap(), l["path"].as_str().unwrap()))
            .collect();
        assert_eq!(denials, zip_denials(lang), "{lang}: {log:#?}");
        assert!(log.iter().all(|l| l["code"] == 76), "{lang}: {log:#?}");
        assert_extracted_inside(&host, "outer/inner/sb", false);
        assert_only_sandbox_changed(&host, "outer/inner/sb");
    }
}

#[test]
fn zip_slip_absolute_names_land_inside_a_root_preopen() {
    // With the sandbox granted as `/`, `/etc/x` is the sandbox's etc/x: confined, not an
    // escape; `..` still stops at the preopen.
    for lang in ["c", "rust"] {
        let host = Host::new(zip_tree, ZIP_OUTSIDE, ZIP_ABSENT);
        let out = grant("--dir", &host.path("outer/inner/sb"), "/");
        let (run, log) = run_audited(lang, "unzip", &out, &["/".into()], &[]);
        assert_eq!(run.code, 1, "{lang}: stderr: {}", run.stderr);
        let expected = zip_expected(lang)
            .replace("/etc/x: mkdir errno=76", "/etc/x: ok")
            .replace("/etc/x: mkdir errno=44", "/etc/x: ok");
        assert_eq!(run.stdout, expected, "{lang}");
        assert_eq!(log.len(), zip_denials(lang).len(), "{lang}: {log:#?}");
        assert_extracted_inside(&host, "outer/inner/sb", true);
        assert_only_sandbox_changed(&host, "outer/inner/sb");
    }
}

#[test]
fn zip_slip_into_dir_ro_writes_nothing() {
    for lang in ["c", "rust"] {
        let host = Host::new(zip_tree, ZIP_OUTSIDE, ZIP_ABSENT);
        let out = grant("--dir-ro", &host.path("outer/inner/sb"), "/out");
        let (run, log) = run_audited(lang, "unzip", &out, &["/out".into()], &[]);
        assert_eq!(run.code, 1, "{lang}: stderr: {}", run.stderr);
        let expected = if lang == "c" {
            "hello.txt: open errno=63\ndocs/readme.txt: mkdir errno=63\n\
             ../../x: mkdir errno=63\n/etc/x: mkdir errno=76\na/../../x: mkdir errno=63\n\
             docs/../../../x: mkdir errno=63\nup: symlink errno=63\nup/x: mkdir errno=63\n"
        } else {
            // create_dir_all of an existing directory gets EXIST (as on a read-only Linux
            // mount) and goes on; the write itself is then refused. Missing parents are
            // refused at their mkdir.
            "hello.txt: open errno=63\ndocs/readme.txt: mkdir errno=63\n\
             ../../x: mkdir errno=63\n/etc/x: mkdir errno=44\na/../../x: mkdir errno=63\n\
             docs/../../../x: mkdir errno=63\nup: symlink errno=63\nup/x: mkdir errno=63\n"
        };
        assert_eq!(run.stdout, expected, "{lang}");
        // Every refusal the runtime made is audited (one per entry but /etc/x).
        assert_eq!(log.len(), 7, "{lang}: {log:#?}");
        assert!(log.iter().all(|l| l["code"] == 63), "{lang}: {log:#?}");
        host.assert_untouched_except(Vec::new());
    }
}

#[test]
fn zip_slip_entries_from_arguments() {
    // A symlink entry aiming at an absolute host path is refused; the file "through" it
    // then just creates a directory of that name inside.
    for lang in ["c", "rust"] {
        let host = Host::new(zip_tree, ZIP_OUTSIDE, ZIP_ABSENT);
        let out = grant("--dir", &host.path("outer/inner/sb"), "/out");
        let entries: Vec<OsString> = [
            "/out",
            "f:ok.txt=1",
            "f:../x=2",
            "l:l2=/etc",
            "f:l2/passwd=3",
            "l:l3=../../../../../../etc/passwd",
            "f:l3=4",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let (run, log) = run_audited(lang, "unzip", &out, &entries, &[]);
        assert_eq!(run.code, 1, "{lang}: stderr: {}", run.stderr);
        assert_eq!(
            run.stdout,
            "ok.txt: ok\n../x: mkdir errno=76\nl2: symlink errno=76\nl2/passwd: ok\n\
             l3: ok\nl3: open errno=76\n",
            "{lang}"
        );
        let symlink_denial = log
            .iter()
            .find(|l| l["function"] == "path_symlink")
            .unwrap_or_else(|| panic!("{lang}: {log:#?}"));
        assert_eq!(
            (&symlink_denial["path"], &symlink_denial["target"]),
            (&serde_json::json!("l2"), &serde_json::json!("/etc")),
            "{lang}"
        );
        let sb = host.path("outer/inner/sb");
        assert_eq!(fs::read_to_string(sb.join("l2/passwd")).unwrap(), "3");
        assert_eq!(fs::read_to_string(sb.join("ok.txt")).unwrap(), "1");
        assert_only_sandbox_changed(&host, "outer/inner/sb");
    }
}
