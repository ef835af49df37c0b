//! Real programs compiled to wasm (guests/c with clang, guests/rust with cargo; built by
//! `scripts/build-guests.sh`) run through the real `nanoproc` binary, under real
//! capabilities (host directories, the host clock, the OS generator) and virtual ones
//! (`--clock fixed=...`, `--random-seed`, `--deterministic`). Every test runs the C and the
//! Rust build of each program, which print the same format. A guest that was not built
//! fails the test with the command that builds it (see `guest_wasm`): nothing is skipped.

use nanoproc_tests::{guest_wasm, guests_dir, nanoproc_cmd, run_cmd, Run, TempDir};
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

const LANGS: [&str; 2] = ["c", "rust"];

/// `nanoproc run FLAGS... GUEST ARGS...` with the host environment cleared except for
/// `env`, so that a leak would show the variables set here.
fn command(lang: &str, guest: &str, flags: &[&str], args: &[&str]) -> Command {
    let mut all: Vec<OsString> = vec!["run".into()];
    all.extend(flags.iter().map(OsString::from));
    all.push(guest_wasm(lang, guest).into());
    all.extend(args.iter().map(OsString::from));
    nanoproc_cmd(all)
}

fn run(lang: &str, guest: &str, flags: &[&str], args: &[&str]) -> Run {
    run_cmd(&mut command(lang, guest, flags, args))
}

fn grant(flag: &str, host: &Path, guest: &str) -> [String; 2] {
    [flag.to_string(), format!("{}::{guest}", host.display())]
}

/// The lines of `stdout` that start with `prefix`.
fn lines_with<'a>(stdout: &'a str, prefix: &str) -> Vec<&'a str> {
    stdout.lines().filter(|l| l.starts_with(prefix)).collect()
}

/// The value of the one `key=` line of the info guest's output.
fn field<'a>(run: &'a Run, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    let found = lines_with(&run.stdout, &prefix);
    assert_eq!(
        found.len(),
        1,
        "one {key}= line expected in {:?}",
        run.stdout
    );
    &found[0][prefix.len()..]
}

fn ok(run: &Run) {
    assert_eq!(
        run.code, 0,
        "exit code; stdout: {:?}; stderr: {:?}",
        run.stdout, run.stderr
    );
    assert_eq!(run.stderr, "", "stderr");
}

#[test]
fn cat_prints_files_under_dir_ro() {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("a.txt"), "alpha\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/b.txt"), "beta, no newline").unwrap();
    // Larger than any one read buffer: the copy loops.
    let big: String = (0..20_000).map(|i| format!("{i}\n")).collect();
    std::fs::write(dir.path().join("big.txt"), &big).unwrap();
    let data = grant("--dir-ro", dir.path(), "/data");
    let dot = grant("--dir-ro", dir.path(), ".");
    for lang in LANGS {
        let r = run(
            lang,
            "cat",
            &[&data[0], &data[1]],
            &["/data/a.txt", "/data/sub/b.txt"],
        );
        ok(&r);
        assert_eq!(r.stdout, "alpha\nbeta, no newline", "{lang}");

        let r = run(lang, "cat", &[&data[0], &data[1]], &["/data/big.txt"]);
        ok(&r);
        assert!(r.stdout == big, "{lang}: big.txt differs");

        // A preopen seen as `.`: relative paths.
        let r = run(lang, "cat", &[&dot[0], &dot[1]], &["a.txt", "./sub/b.txt"]);
        ok(&r);
        assert_eq!(r.stdout, "alpha\nbeta, no newline", "{lang}");
    }
}

#[test]
fn cat_reports_what_it_cannot_read() {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("a.txt"), "alpha\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let data = grant("--dir-ro", dir.path(), "/data");
    for lang in LANGS {
        let r = run(
            lang,
            "cat",
            &[&data[0], &data[1]],
            &[
                "/data/missing",
                "/data/../../etc/passwd",
                "/data/sub",
                "/data/a.txt",
                "/etc/passwd",
            ],
        );
        assert_eq!(r.code, 1, "{lang}: {}", r.stderr);
        assert_eq!(
            r.stdout, "alpha\n",
            "{lang}: the readable file is still printed"
        );
        // NOENT 44, NOTCAPABLE 76 (the runtime refuses `..` out of the preopen), ISDIR 31
        // (reading a directory). `/etc/passwd` is under no preopen, so the guest's own
        // library refuses it before asking the runtime: wasi-libc with NOTCAPABLE, Rust's
        // std with NOENT.
        let outside = if lang == "c" { 76 } else { 44 };
        assert_eq!(
            r.stderr,
            format!(
                "cat: /data/missing: errno=44\n\
                 cat: /data/../../etc/passwd: errno=76\n\
                 cat: /data/sub: errno=31\n\
                 cat: /etc/passwd: errno={outside}\n"
            ),
            "{lang}"
        );
        // Nothing granted: not even the file the guest names exists for it.
        let r = run(lang, "cat", &[], &["/data/a.txt"]);
        assert_eq!((r.code, r.stdout.as_str()), (1, ""), "{lang}: {}", r.stderr);
    }
}

/// A tree with files of several sizes, nested and empty directories, a symlink, names that
/// sort differently bytewise and by locale.
fn make_tree(root: &Path) {
    let w = |p: &str, n: usize| std::fs::write(root.join(p), vec![b'x'; n]).unwrap();
    let d = |p: &str| std::fs::create_dir(root.join(p)).unwrap();
    w("a.txt", 5);
    w("B.txt", 0);
    w("with space", 1);
    d("docs");
    w("docs/readme.md", 1234);
    d("docs/deep");
    d("docs/deep/deeper");
    w("docs/deep/deeper/leaf.bin", 70_000);
    d("empty");
    d("z");
    w("z/last", 3);
    std::os::unix::fs::symlink("docs/readme.md", root.join("link")).unwrap();
}

const TREE: &str = "\
f 0 B.txt
f 5 a.txt
d docs/
d docs/deep/
d docs/deep/deeper/
f 70000 docs/deep/deeper/leaf.bin
f 1234 docs/readme.md
d empty/
l link -> docs/readme.md
f 1 with space
d z/
f 3 z/last
";

#[test]
fn walker_lists_the_tree_exactly() {
    let dir = TempDir::new();
    make_tree(dir.path());
    let tree = grant("--dir-ro", dir.path(), "/tree");
    let dot = grant("--dir-ro", dir.path(), ".");
    for lang in LANGS {
        let r = run(lang, "walk", &[&tree[0], &tree[1]], &["/tree"]);
        ok(&r);
        assert_eq!(r.stdout, TREE, "{lang}");
        let r = run(lang, "walk", &[&dot[0], &dot[1]], &["."]);
        ok(&r);
        assert_eq!(r.stdout, TREE, "{lang}");
        // A subdirectory as the root.
        let r = run(lang, "walk", &[&tree[0], &tree[1]], &["/tree/docs"]);
        ok(&r);
        assert_eq!(
            r.stdout, "d deep/\nd deep/deeper/\nf 70000 deep/deeper/leaf.bin\nf 1234 readme.md\n",
            "{lang}"
        );
        // Nothing granted, nothing to list.
        let r = run(lang, "walk", &[], &["/tree"]);
        assert_eq!((r.code, r.stdout.as_str()), (1, ""), "{lang}: {}", r.stderr);
    }
}

#[test]
fn args_and_env_are_exactly_what_was_granted() {
    for lang in LANGS {
        let mut cmd = command(
            lang,
            "info",
            &[
                "--env",
                "GRANTED=yes",
                "--env",
                "EMPTY=",
                "--env",
                "NANOPROC_PASSED",
                "--env",
                "NANOPROC_ABSENT",
            ],
            &["one", "two words", "", "ünïcode", "--flag"],
        );
        cmd.env("NANOPROC_PASSED", "from the host")
            .env("NANOPROC_NOT_GRANTED", "secret")
            .env_remove("NANOPROC_ABSENT");
        let r = run_cmd(&mut cmd);
        ok(&r);
        let argv0 = guest_wasm(lang, "info").display().to_string();
        let head: Vec<&str> = r
            .stdout
            .lines()
            .take_while(|l| !l.starts_with("realtime="))
            .collect();
        let expected = format!(
            "argc=6\nargv[0]={argv0}\nargv[1]=one\nargv[2]=two words\nargv[3]=\n\
             argv[4]=ünïcode\nargv[5]=--flag\nenvc=3\nenv[0]=GRANTED=yes\nenv[1]=EMPTY=\n\
             env[2]=NANOPROC_PASSED=from the host"
        );
        assert_eq!(head.join("\n"), expected, "{lang}");

        // Nothing is inherited: the test process has PATH, HOME, CARGO_* ...
        let mut cmd = command(lang, "info", &[], &[]);
        cmd.env("NANOPROC_NOT_GRANTED", "secret");
        let r = run_cmd(&mut cmd);
        ok(&r);
        assert!(
            r.stdout
                .starts_with(&format!("argc=1\nargv[0]={argv0}\nenvc=0\nrealtime=")),
            "{lang}: {}",
            r.stdout
        );
        assert!(!r.stdout.contains("secret"), "{lang}");
    }
}

#[test]
fn real_clock_and_os_random() {
    for lang in LANGS {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let a = run(lang, "info", &[], &[]);
        let after = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        ok(&a);
        let t: f64 = field(&a, "realtime").parse().unwrap();
        assert!(
            before - 1.0 <= t && t <= after + 1.0,
            "{lang}: realtime {t} not within [{before}, {after}]"
        );
        let b = run(lang, "info", &[], &[]);
        ok(&b);
        assert_ne!(field(&a, "random"), field(&b, "random"), "{lang}");
        assert_eq!(field(&a, "random").len(), 32, "{lang}");
    }
}

#[test]
fn deterministic_runs_are_identical() {
    let mut outputs = Vec::new();
    for lang in LANGS {
        let first = run(lang, "info", &["--deterministic"], &["x"]);
        let second = run(lang, "info", &["--deterministic"], &["x"]);
        ok(&first);
        assert_eq!(first.stdout, second.stdout, "{lang}");
        // Clocks at the Unix epoch, random seeded with 0.
        assert_eq!(field(&first, "realtime"), "0.000000000", "{lang}");
        assert_eq!(field(&first, "monotonic"), "0", "{lang}");
        outputs.push(
            first
                .stdout
                .lines()
                .filter(|l| !l.starts_with("argv[0]="))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    // Past argv[0], the C and the Rust programs see exactly the same world.
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn fixed_clock_shows_the_fixed_time() {
    for lang in LANGS {
        let r = run(
            lang,
            "info",
            &["--clock", "fixed=2024-02-29T12:34:56.789+02:00,step=1ms"],
            &[],
        );
        ok(&r);
        // 2024-02-29T10:34:56.789Z; each clock's first read is the instant itself.
        assert_eq!(field(&r, "realtime"), "1709202896.789000000", "{lang}");
        assert_eq!(field(&r, "monotonic"), "1709202896789000000", "{lang}");
        let r = run(
            lang,
            "info",
            &["--clock", "fixed=1999-12-31T23:59:59Z"],
            &[],
        );
        ok(&r);
        assert_eq!(field(&r, "realtime"), "946684799.000000000", "{lang}");
    }
}

#[test]
fn random_seed_is_reproducible() {
    let mut by_seed = Vec::new();
    for lang in LANGS {
        let random = |seed: &str| {
            let r = run(lang, "info", &["--random-seed", seed], &[]);
            ok(&r);
            field(&r, "random").to_string()
        };
        let a = random("42");
        assert_eq!(a, random("42"), "{lang}");
        let b = random("43");
        assert_ne!(a, b, "{lang}");
        assert_ne!(a, random("0"), "{lang}");
        by_seed.push((a, b));
    }
    // The stream depends on the seed only, not on the program.
    assert_eq!(by_seed[0], by_seed[1]);
}

#[test]
fn a_missing_guest_fails_with_how_to_build_it() {
    let err = std::panic::catch_unwind(|| guest_wasm("c", "no-such-guest")).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("not found") && msg.contains("./scripts/build-guests.sh"),
        "{msg}"
    );
    assert!(
        msg.contains(&guests_dir().display().to_string()),
        "names the path: {msg}"
    );
}
