//! unzip: a deliberately naive archive extractor, the kind Zip-Slip exploits; the Rust
//! twin of guests/c/unzip.c (same built-in archive, arguments and output). Entry names are
//! joined to DEST with `Path::join` and no check, so `/etc/x` replaces DEST altogether and
//! `../../x` climbs out of it; parents are created with `create_dir_all`.
//!
//!   unzip DEST [f:NAME=CONTENT | l:NAME=TARGET]...
//!
//! One line per entry: `NAME: ok` or `NAME: OP errno=N` (OP is mkdir, open, write or
//! symlink). Exit code 0 when every entry was extracted, 1 otherwise.

use nanoproc_guests::{errno, symlink_at};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;

const BUILTIN: &[(char, &str, &str)] = &[
    ('f', "hello.txt", "hello\n"),
    ('f', "docs/readme.txt", "nested\n"),
    ('f', "../../x", "escaped\n"),
    ('f', "/etc/x", "escaped\n"),
    ('f', "a/../../x", "escaped\n"),
    ('f', "docs/../../../x", "escaped\n"),
    ('l', "up", "../.."),
    ('f', "up/x", "escaped\n"),
];

fn extract(dest: &Path, root: &std::fs::File, kind: char, name: &str, data: &str) -> bool {
    let path = dest.join(name);
    if let Some(parent) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(parent) {
            println!("{name}: mkdir errno={}", errno(&e));
            return false;
        }
    }
    if kind == 'l' {
        if let Err(e) = symlink_at(data, root.as_raw_fd() as u32, name) {
            println!("{name}: symlink errno={e}");
            return false;
        }
    } else {
        let mut file = match std::fs::File::create(&path) {
            Ok(file) => file,
            Err(e) => {
                println!("{name}: open errno={}", errno(&e));
                return false;
            }
        };
        if let Err(e) = file.write_all(data.as_bytes()) {
            println!("{name}: write errno={}", errno(&e));
            return false;
        }
    }
    println!("{name}: ok");
    true
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: unzip DEST [f:NAME=CONTENT | l:NAME=TARGET]...");
        std::process::exit(2);
    }
    let dest = Path::new(&args[1]);
    let root = match std::fs::File::open(dest) {
        Ok(root) => root,
        Err(e) => {
            println!("{}: open errno={}", args[1], errno(&e));
            std::process::exit(1);
        }
    };
    let mut entries: Vec<(char, String, String)> = Vec::new();
    if args.len() == 2 {
        entries.extend(
            BUILTIN
                .iter()
                .map(|&(k, n, d)| (k, n.to_string(), d.to_string())),
        );
    }
    for arg in &args[2..] {
        let parsed = arg.split_once('=').and_then(|(head, data)| {
            let kind = head.chars().next()?;
            let name = head
                .strip_prefix("f:")
                .or_else(|| head.strip_prefix("l:"))?;
            Some((kind, name.to_string(), data.to_string()))
        });
        match parsed {
            Some(entry) => entries.push(entry),
            None => {
                eprintln!("unzip: bad entry {arg}");
                std::process::exit(2);
            }
        }
    }
    let mut ok = true;
    for (kind, name, data) in &entries {
        ok &= extract(dest, &root, *kind, name, data);
    }
    std::process::exit(if ok { 0 } else { 1 });
}
