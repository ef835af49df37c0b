//! walk: lists every entry below each directory named on the command line, depth first,
//! the entries of a directory sorted by name (bytewise), in the same format as
//! guests/c/walk.c: `d NAME/`, `f SIZE NAME`, `l NAME -> TARGET`, `? NAME`. An error is
//! printed on stderr as `walk: PATH: errno=N` and makes the exit code 1.

use nanoproc_guests::errno;
use std::path::Path;

fn fail(path: &Path, e: &std::io::Error) -> bool {
    eprintln!("walk: {}: errno={}", path.display(), errno(e));
    false
}

/// Lists `root/rel`; false if anything failed.
fn walk(root: &Path, rel: &str) -> bool {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => return fail(&dir, &e),
    };
    let mut ok = true;
    let mut names = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => names.push(entry.file_name().to_string_lossy().into_owned()),
            Err(e) => ok = fail(&dir, &e),
        }
    }
    names.sort();
    for name in names {
        let sub = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let full = root.join(&sub);
        match std::fs::symlink_metadata(&full) {
            Err(e) => ok = fail(&full, &e),
            Ok(meta) if meta.is_dir() => {
                println!("d {sub}/");
                ok &= walk(root, &sub);
            }
            Ok(meta) if meta.is_file() => println!("f {} {sub}", meta.len()),
            Ok(meta) if meta.file_type().is_symlink() => match std::fs::read_link(&full) {
                Ok(target) => println!("l {sub} -> {}", target.display()),
                Err(e) => ok = fail(&full, &e),
            },
            Ok(_) => println!("? {sub}"),
        }
    }
    ok
}

fn main() {
    let mut ok = true;
    for root in std::env::args().skip(1) {
        ok &= walk(Path::new(&root), "");
    }
    std::process::exit(if ok { 0 } else { 1 });
}
