//! Manifests: parsing, structural problems, and every attenuation rule — each violation
//! refused, all reported at once, each naming the nanoprocess and the key.

use nanoproc_nano::*;
use std::path::{Path, PathBuf};

/// A scratch folder with `photos/`, `photos/thumbs/`, `out/`, `secret/` inside.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("nanoproc-manifest-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["photos/thumbs", "out", "secret"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        Scratch(dir)
    }
    fn manifest(&self, text: &str) -> Result<Manifest, ManifestError> {
        let path = self.0.join("nanoproc.toml");
        std::fs::write(&path, text).unwrap();
        Manifest::from_file(&path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const GOOD: &str = r#"
[app]
name = "photo-service"
main = "main"

[nanoprocess.main]
module = "main.wasm"
grants.dirs = [{ host = "photos", guest = "/photos", mode = "ro" },
               { host = "out", guest = "/out", mode = "rw" }]
grants.env = { LOG = "info" }
grants.clock = "real"
grants.random = "os"
grants.stdio = { stdout = "inherit", stderr = "inherit" }
limits = { memory = "64MiB", fuel = 5_000_000_000, timeout = "10s" }
links = { "acme:img/resize" = "imgproc" }

[nanoprocess.imgproc]
parent = "main"
module = "imgproc.wasm"
wit = "wit/imgproc.wit"
grants = {}
limits = { memory = "16MiB", fuel = 1000, timeout = "1s" }

[nanoprocess.thumbs]
parent = "main"
module = "thumbs.wasm"
grants.dirs = [{ host = "photos/thumbs", guest = "/t", mode = "ro" }]
grants.clock = "fixed:2024-01-01T00:00:00Z,step=1ms"
grants.random = "seed:42"
grants.stdio = { stderr = "inherit" }
limits = { memory = 1048576, fuel = 100, timeout = "10s" }
"#;

#[test]
fn a_valid_manifest_parses_and_attenuates() {
    let s = Scratch::new("good");
    let m = s.manifest(GOOD).unwrap();
    assert_eq!(m.main, "main");
    assert_eq!(m.app_name, "photo-service");
    let main = &m.nanoprocesses["main"];
    assert_eq!(main.module, s.0.join("main.wasm"));
    assert_eq!(main.grants.dirs[1].mode, Mode::Rw);
    assert_eq!(main.limits.memory, Some(64 << 20));
    assert_eq!(main.links["acme:img/resize"], "imgproc");
    let img = &m.nanoprocesses["imgproc"];
    assert_eq!(img.grants, Grants::default(), "empty grants grant nothing");
    let thumbs = &m.nanoprocesses["thumbs"];
    assert_eq!(thumbs.grants.random, RandomGrant::Seed(42));
    assert!(matches!(
        thumbs.grants.clock,
        ClockGrant::Fixed {
            start_ns: 1_704_067_200_000_000_000,
            ..
        }
    ));
    assert_eq!(check_attenuation(&m), vec![]);
    let tree = capability_tree(&m);
    assert!(tree.starts_with("main ("), "{tree}");
    assert!(tree.contains("  imgproc ("), "{tree}");
    assert!(tree.contains("grants: nothing"), "{tree}");
    assert!(tree.contains("attenuated from `main`"), "{tree}");
    assert!(tree.contains("dir photos -> /photos (ro)"), "{tree}");
}

#[test]
fn every_attenuation_violation_is_reported_at_once() {
    let s = Scratch::new("violations");
    std::os::unix::fs::symlink(s.0.join("secret"), s.0.join("photos/link-out")).unwrap();
    let m = s
        .manifest(
            r#"
[app]
main = "main"
[nanoprocess.main]
module = "main.wasm"
grants.dirs = [{ host = "photos", mode = "ro" }, { host = "out", mode = "rw" }]
grants.env = { LOG = "info" }
grants.clock = "fixed:2024-01-01T00:00:00Z"
grants.random = "seed:1"
limits = { memory = "16MiB", fuel = 100, timeout = "1s" }

[nanoprocess.bad]
parent = "main"
module = "bad.wasm"
grants.dirs = [
  { host = "secret", mode = "ro" },             # outside every parent directory
  { host = "photos", mode = "rw" },             # stronger mode than the parent's
  { host = "photos/../secret", mode = "ro" },   # `..` resolved: outside
  { host = "photos/link-out", mode = "ro" },    # symlink resolved: outside
  { host = "out", mode = "rw" },                # fine
]
grants.env = { LOG = "debug", HOME = "/root" }  # different value; not the parent's
grants.clock = "real"                           # parent has only a virtual clock
grants.random = "os"                            # parent has only seeded randomness
grants.stdio = { stdout = "inherit" }           # parent does not inherit stdout
limits = { memory = "32MiB", fuel = 1000 }      # larger; and no timeout under a parent's
"#,
        )
        .unwrap();
    let problems = check_attenuation(&m);
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "grants.dirs[0]",
            "grants.dirs[1].mode",
            "grants.dirs[2]",
            "grants.dirs[3]",
            "grants.env.HOME",
            "grants.env.LOG",
            "grants.clock",
            "grants.random",
            "grants.stdio.stdout",
            "limits.memory",
            "limits.fuel",
            "limits.timeout",
        ],
        "{problems:#?}"
    );
    assert!(problems
        .iter()
        .all(|p| p.nanoprocess.as_deref() == Some("bad")));
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(
        text[0].contains("not inside any directory of parent `main` (photos ro, out rw)"),
        "{}",
        text[0]
    );
    assert!(
        text[1].contains("parent `main` holds `photos` only ro"),
        "{}",
        text[1]
    );
    assert!(text[5].contains("`LOG=info`"), "{}", text[5]);
    assert!(text[9].contains("exceeds parent `main`"), "{}", text[9]);
}

#[test]
fn structural_problems_are_all_reported_with_their_keys() {
    let s = Scratch::new("structure");
    let err = s
        .manifest(
            r#"
[app]
main = "child"
extra = 1
[nanoprocess.child]
parent = "ghost"
[nanoprocess.a]
module = "a.wasm"
parent = "b"
limits = { memory = "lots", fule = 3 }
links = { "x:y/z" = "nobody" }
grants.dirs = [{ guest = "/nohost" }]
grants.clock = "sundial"
[nanoprocess.b]
module = "b.wasm"
parent = "a"
grants = { stdio = { stdout = "maybe" } }
"#,
        )
        .unwrap_err();
    let ManifestError::Invalid(problems) = err else {
        panic!("expected problems, got {err}");
    };
    let text = problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    for needle in [
        "`app.extra`: unknown key",
        "nanoprocess `a`: `limits.fule`: unknown key",
        "nanoprocess `a`: `limits.memory`: `lots` is not a size",
        "nanoprocess `a`: `grants.dirs[0].host`: missing",
        "nanoprocess `a`: `grants.clock`: `sundial` is not a clock",
        "nanoprocess `child`: `module`: missing",
        "`app.main`: the main nanoprocess `child` must be the root, but has parent `ghost`",
        "nanoprocess `child`: `parent`: no nanoprocess named `ghost`",
        "nanoprocess `a`: `links.x:y/z`: no nanoprocess named `nobody`",
        "nanoprocess `a`: `parent`: parent chain loops",
        "nanoprocess `b`: `grants.stdio.stdout`: expected \"inherit\" or \"null\"",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    assert!(
        text.lines().all(|l| l.contains("nanoproc.toml: ")),
        "{text}"
    );
}

#[test]
fn bad_files_give_clear_errors() {
    let err = Manifest::from_file(Path::new("/no/such/nanoproc.toml")).unwrap_err();
    assert!(err.to_string().contains("/no/such/nanoproc.toml"), "{err}");
    let s = Scratch::new("toml");
    let err = s.manifest("[app\nmain = ").unwrap_err();
    assert!(matches!(err, ManifestError::Toml { .. }), "{err}");
    assert!(err.to_string().contains("invalid TOML"), "{err}");
    let err = s.manifest("").unwrap_err();
    assert!(err.to_string().contains("missing [app]"), "{err}");
}

#[test]
fn missing_host_directories_are_reported() {
    let s = Scratch::new("missing");
    let m = s
        .manifest(
            r#"
[app]
main = "main"
[nanoprocess.main]
module = "m.wasm"
grants.dirs = [{ host = "does-not-exist" }]
"#,
        )
        .unwrap();
    let problems = check_attenuation(&m);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "grants.dirs[0].host");
}
