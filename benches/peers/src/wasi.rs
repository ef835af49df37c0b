//! One small, deterministic WASI preview1 shim shared by every runtime adapter, so the
//! host-side work of a benchmark (reading its input, writing its output) is the same code
//! whichever engine runs the guest.
//!
//! It implements the subset the sightglass programs and our C workloads import, over an
//! in-memory file table preloaded from the benchmark's folder (read before anything is
//! timed). stdout and stderr go to buffers that the harness compares with the expected
//! output. Clocks and random bytes are deterministic, so two runs see the same inputs.
//!
//! Every function works on a plain guest-memory byte slice and 64-bit argument cells: an
//! adapter only has to hand over its memory and the arguments. A module importing a function
//! the shim lacks is refused with its name (add the function here rather than stub it).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// WASI errno values used here.
mod errno {
    pub const SUCCESS: i32 = 0;
    pub const BADF: i32 = 8;
    pub const EXIST: i32 = 20;
    pub const FAULT: i32 = 21;
    pub const INVAL: i32 = 28;
    pub const ISDIR: i32 = 31;
    pub const NOENT: i32 = 44;
    pub const NOTDIR: i32 = 54;
    pub const SPIPE: i32 = 70;
}

const FILETYPE_CHARACTER_DEVICE: u8 = 2;
const FILETYPE_DIRECTORY: u8 = 3;
const FILETYPE_REGULAR_FILE: u8 = 4;

const OFLAGS_CREAT: u64 = 1;
const OFLAGS_DIRECTORY: u64 = 2;
const OFLAGS_EXCL: u64 = 4;
const OFLAGS_TRUNC: u64 = 8;

/// The file descriptor of the one preopened directory, the benchmark's folder as `.`.
const PREOPEN_FD: usize = 3;

/// A host import the shim implements: the WASI functions plus sightglass's `bench` pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Import {
    BenchStart,
    BenchEnd,
    ArgsGet,
    ArgsSizesGet,
    EnvironGet,
    EnvironSizesGet,
    ClockTimeGet,
    FdClose,
    FdFdstatGet,
    FdFilestatGet,
    FdPrestatGet,
    FdPrestatDirName,
    FdRead,
    FdSeek,
    FdWrite,
    PathFilestatGet,
    PathOpen,
    ProcExit,
    RandomGet,
    SchedYield,
}

/// A parameter type of an import (WASI preview1 needs only these two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    I32,
    I64,
}

impl Import {
    pub const WASI_MODULE: &'static str = "wasi_snapshot_preview1";

    /// The import named `module::name`, if the shim implements it.
    pub fn lookup(module: &str, name: &str) -> Option<Import> {
        use Import::*;
        Some(match (module, name) {
            ("bench", "start") => BenchStart,
            ("bench", "end") => BenchEnd,
            (Self::WASI_MODULE, name) => match name {
                "args_get" => ArgsGet,
                "args_sizes_get" => ArgsSizesGet,
                "environ_get" => EnvironGet,
                "environ_sizes_get" => EnvironSizesGet,
                "clock_time_get" => ClockTimeGet,
                "fd_close" => FdClose,
                "fd_fdstat_get" => FdFdstatGet,
                "fd_filestat_get" => FdFilestatGet,
                "fd_prestat_get" => FdPrestatGet,
                "fd_prestat_dir_name" => FdPrestatDirName,
                "fd_read" => FdRead,
                "fd_seek" => FdSeek,
                "fd_write" => FdWrite,
                "path_filestat_get" => PathFilestatGet,
                "path_open" => PathOpen,
                "proc_exit" => ProcExit,
                "random_get" => RandomGet,
                "sched_yield" => SchedYield,
                _ => return None,
            },
            _ => return None,
        })
    }

    /// Parameter types; every WASI function returns one `i32` errno except `proc_exit`
    /// and the `bench` pair (see [`Import::has_result`]).
    pub fn params(self) -> &'static [Ty] {
        use Import::*;
        use Ty::*;
        match self {
            BenchStart | BenchEnd | SchedYield => &[],
            ProcExit | FdClose => &[I32],
            ArgsGet | ArgsSizesGet | EnvironGet | EnvironSizesGet | FdFdstatGet | FdFilestatGet
            | FdPrestatGet | RandomGet => &[I32, I32],
            ClockTimeGet => &[I32, I64, I32],
            FdPrestatDirName => &[I32, I32, I32],
            FdRead | FdWrite => &[I32, I32, I32, I32],
            FdSeek => &[I32, I64, I32, I32],
            PathFilestatGet => &[I32, I32, I32, I32, I32],
            PathOpen => &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
        }
    }

    pub fn has_result(self) -> bool {
        !matches!(
            self,
            Import::BenchStart | Import::BenchEnd | Import::ProcExit
        )
    }
}

/// The guest called `proc_exit`: the adapter turns this into a trap that unwinds the guest,
/// then reads the code from [`WasiCtx::exit_code`].
#[derive(Debug, Clone, Copy)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "proc_exit({})", self.0)
    }
}

impl std::error::Error for Exit {}

/// An open file descriptor.
#[derive(Clone, Debug)]
enum Fd {
    Stdin,
    Stdout,
    Stderr,
    /// The preopened benchmark folder (`.`).
    Dir,
    File {
        name: String,
        pos: u64,
    },
}

/// The files a guest can see: the benchmark folder's regular files, by name, read once.
/// Shared between runs (cloning is cheap); a guest that writes gets its own copy.
#[derive(Clone, Default)]
pub struct Files(HashMap<String, Arc<Vec<u8>>>);

impl Files {
    /// Every regular file directly inside `dir` (sightglass folders are flat).
    pub fn preload(dir: &Path) -> std::io::Result<Files> {
        let mut files = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Ok(name) = entry.file_name().into_string() {
                    files.insert(name, Arc::new(std::fs::read(entry.path())?));
                }
            }
        }
        Ok(Files(files))
    }
}

/// The state of one guest run: its arguments, files, descriptors, captured output and the
/// two timestamps of the `bench` protocol.
pub struct WasiCtx {
    args: Vec<Vec<u8>>,
    files: Files,
    fds: Vec<Option<Fd>>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: Option<i32>,
    pub bench_start: Option<Instant>,
    pub bench_end: Option<Instant>,
    /// The virtual clock, in ns: starts at a fixed instant, advances 1 µs per read.
    clock: u64,
    /// xorshift64 state for `random_get`.
    rng: u64,
}

impl WasiCtx {
    /// A context with `args` (`args[0]` is the program name) and `files` visible in `.`.
    pub fn new(args: &[&str], files: Files) -> WasiCtx {
        WasiCtx {
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            files,
            fds: vec![
                Some(Fd::Stdin),
                Some(Fd::Stdout),
                Some(Fd::Stderr),
                Some(Fd::Dir),
            ],
            stdout: Vec::new(),
            stderr: Vec::new(),
            exit_code: None,
            bench_start: None,
            bench_end: None,
            clock: 1_600_000_000_000_000_000,
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// The time between `bench.start` and `bench.end`, if the guest called both.
    pub fn timed(&self) -> Option<std::time::Duration> {
        self.bench_end?.checked_duration_since(self.bench_start?)
    }

    /// Runs `import` with arguments `args` (one cell per parameter, i32s in the low bits)
    /// on guest memory `mem`. Returns the errno (0 for functions without a result).
    pub fn call(&mut self, import: Import, mem: &mut [u8], args: &[u64]) -> Result<i32, Exit> {
        let a = |i: usize| args[i] as u32;
        let result = match import {
            Import::BenchStart => {
                self.bench_start = Some(Instant::now());
                Ok(())
            }
            Import::BenchEnd => {
                self.bench_end = Some(Instant::now());
                Ok(())
            }
            Import::ProcExit => {
                self.exit_code = Some(a(0) as i32);
                return Err(Exit(a(0) as i32));
            }
            Import::ArgsSizesGet => self.sizes_get(mem, false, a(0), a(1)),
            Import::ArgsGet => self.strings_get(mem, false, a(0), a(1)),
            Import::EnvironSizesGet => self.sizes_get(mem, true, a(0), a(1)),
            Import::EnvironGet => self.strings_get(mem, true, a(0), a(1)),
            Import::ClockTimeGet => {
                self.clock += 1_000;
                write_u64(mem, a(2), self.clock)
            }
            Import::RandomGet => self.random_get(mem, a(0), a(1)),
            Import::SchedYield => Ok(()),
            Import::FdClose => self.fd_close(a(0)),
            Import::FdFdstatGet => self.fd_fdstat_get(mem, a(0), a(1)),
            Import::FdFilestatGet => match self.fd(a(0)) {
                Ok(Fd::File { name, .. }) => {
                    let size = self.file(&name).map_or(0, |f| f.len() as u64);
                    write_filestat(mem, a(1), FILETYPE_REGULAR_FILE, size)
                }
                Ok(Fd::Dir) => write_filestat(mem, a(1), FILETYPE_DIRECTORY, 0),
                Ok(_) => write_filestat(mem, a(1), FILETYPE_CHARACTER_DEVICE, 0),
                Err(e) => Err(e),
            },
            Import::FdPrestatGet => match self.fd(a(0)) {
                // prestat: tag 0 (a directory), then the name's length ("." is 1 byte).
                Ok(Fd::Dir) => write_u32(mem, a(1), 0).and_then(|_| write_u32(mem, a(1) + 4, 1)),
                Ok(_) | Err(_) => Err(errno::BADF),
            },
            Import::FdPrestatDirName => match self.fd(a(0)) {
                Ok(Fd::Dir) if a(2) >= 1 => write_bytes(mem, a(1), b"."),
                Ok(Fd::Dir) => Err(errno::INVAL),
                Ok(_) | Err(_) => Err(errno::BADF),
            },
            Import::FdRead => self.fd_read(mem, a(0), a(1), a(2), a(3)),
            Import::FdWrite => self.fd_write(mem, a(0), a(1), a(2), a(3)),
            Import::FdSeek => self.fd_seek(mem, a(0), args[1] as i64, a(2), a(3)),
            Import::PathFilestatGet => {
                let name = self.resolve(mem, a(0), a(2), a(3));
                match name {
                    Ok(None) => write_filestat(mem, a(4), FILETYPE_DIRECTORY, 0),
                    Ok(Some(name)) => match self.file(&name) {
                        Some(f) => {
                            let size = f.len() as u64;
                            write_filestat(mem, a(4), FILETYPE_REGULAR_FILE, size)
                        }
                        None => Err(errno::NOENT),
                    },
                    Err(e) => Err(e),
                }
            }
            Import::PathOpen => self.path_open(mem, a(0), a(2), a(3), u64::from(a(4)), a(8)),
        };
        Ok(match result {
            Ok(()) => errno::SUCCESS,
            Err(e) => e,
        })
    }

    fn fd(&self, fd: u32) -> Result<Fd, i32> {
        self.fds
            .get(fd as usize)
            .cloned()
            .flatten()
            .ok_or(errno::BADF)
    }

    fn file(&self, name: &str) -> Option<&Arc<Vec<u8>>> {
        self.files.0.get(name)
    }

    fn env(&self, environ: bool) -> &[Vec<u8>] {
        // No environment variables: a benchmark must not depend on the host's.
        if environ {
            &[]
        } else {
            &self.args
        }
    }

    fn sizes_get(&self, mem: &mut [u8], environ: bool, count_ptr: u32, size_ptr: u32) -> R {
        let strings = self.env(environ);
        let bytes: usize = strings.iter().map(|s| s.len() + 1).sum();
        write_u32(mem, count_ptr, strings.len() as u32)?;
        write_u32(mem, size_ptr, bytes as u32)
    }

    fn strings_get(&self, mem: &mut [u8], environ: bool, ptrs: u32, buf: u32) -> R {
        let mut at = buf;
        for (i, s) in self.env(environ).iter().enumerate() {
            write_u32(mem, ptrs + 4 * i as u32, at)?;
            write_bytes(mem, at, s)?;
            write_bytes(mem, at + s.len() as u32, &[0])?;
            at += s.len() as u32 + 1;
        }
        Ok(())
    }

    fn random_get(&mut self, mem: &mut [u8], buf: u32, len: u32) -> R {
        let out = slice_mut(mem, buf, len)?;
        for b in out {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            *b = self.rng as u8;
        }
        Ok(())
    }

    fn fd_close(&mut self, fd: u32) -> R {
        match self.fds.get_mut(fd as usize) {
            Some(slot @ Some(_)) => {
                *slot = None;
                Ok(())
            }
            _ => Err(errno::BADF),
        }
    }

    fn fd_fdstat_get(&self, mem: &mut [u8], fd: u32, ptr: u32) -> R {
        let filetype = match self.fd(fd)? {
            Fd::Dir => FILETYPE_DIRECTORY,
            Fd::File { .. } => FILETYPE_REGULAR_FILE,
            _ => FILETYPE_CHARACTER_DEVICE,
        };
        // fdstat: filetype u8, flags u16 at 2, rights (all granted) at 8 and 16.
        write_bytes(mem, ptr, &[filetype, 0, 0, 0, 0, 0, 0, 0])?;
        write_u64(mem, ptr + 8, u64::MAX)?;
        write_u64(mem, ptr + 16, u64::MAX)
    }

    fn fd_read(&mut self, mem: &mut [u8], fd: u32, iovs: u32, iovs_len: u32, nread: u32) -> R {
        let (name, mut pos) = match self.fd(fd)? {
            Fd::File { name, pos } => (name, pos),
            Fd::Stdin => return write_u32(mem, nread, 0), // always empty
            Fd::Dir => return Err(errno::ISDIR),
            _ => return Err(errno::BADF),
        };
        let data = Arc::clone(self.file(&name).ok_or(errno::BADF)?);
        let mut total = 0u32;
        for i in 0..iovs_len {
            let (buf, len) = iovec(mem, iovs, i)?;
            let start = (pos as usize).min(data.len());
            let n = (len as usize).min(data.len() - start);
            slice_mut(mem, buf, n as u32)?.copy_from_slice(&data[start..start + n]);
            pos += n as u64;
            total += n as u32;
            if n < len as usize {
                break;
            }
        }
        self.fds[fd as usize] = Some(Fd::File { name, pos });
        write_u32(mem, nread, total)
    }

    fn fd_write(&mut self, mem: &mut [u8], fd: u32, iovs: u32, iovs_len: u32, nwritten: u32) -> R {
        let target = self.fd(fd)?;
        let mut total = 0u32;
        for i in 0..iovs_len {
            let (buf, len) = iovec(mem, iovs, i)?;
            let bytes = slice_mut(mem, buf, len)?;
            match &target {
                Fd::Stdout => self.stdout.extend_from_slice(bytes),
                Fd::Stderr => self.stderr.extend_from_slice(bytes),
                Fd::File { name, .. } => {
                    let Some(pos) = self.fds[fd as usize].as_mut().and_then(|f| match f {
                        Fd::File { pos, .. } => Some(pos),
                        _ => None,
                    }) else {
                        return Err(errno::BADF);
                    };
                    let at = *pos as usize;
                    *pos += u64::from(len);
                    let file = Arc::make_mut(self.files.0.get_mut(name).ok_or(errno::BADF)?);
                    if file.len() < at + bytes.len() {
                        file.resize(at + bytes.len(), 0);
                    }
                    file[at..at + bytes.len()].copy_from_slice(bytes);
                }
                _ => return Err(errno::BADF),
            }
            total += len;
        }
        write_u32(mem, nwritten, total)
    }

    fn fd_seek(&mut self, mem: &mut [u8], fd: u32, offset: i64, whence: u32, out: u32) -> R {
        let Fd::File { name, pos } = self.fd(fd)? else {
            return Err(errno::SPIPE); // stdio and the folder are not seekable
        };
        let len = self.file(&name).map_or(0, |f| f.len() as i64);
        let base = match whence {
            0 => 0,
            1 => pos as i64,
            2 => len,
            _ => return Err(errno::INVAL),
        };
        let new = base
            .checked_add(offset)
            .filter(|p| *p >= 0)
            .ok_or(errno::INVAL)?;
        self.fds[fd as usize] = Some(Fd::File {
            name,
            pos: new as u64,
        });
        write_u64(mem, out, new as u64)
    }

    /// The file name a path relative to the preopened folder names: `None` for the folder
    /// itself. Only flat names are supported (the benchmark folders have no subfolders).
    fn resolve(
        &self,
        mem: &mut [u8],
        dirfd: u32,
        ptr: u32,
        len: u32,
    ) -> Result<Option<String>, i32> {
        if !matches!(self.fd(dirfd)?, Fd::Dir) {
            return Err(errno::NOTDIR);
        }
        let path = std::str::from_utf8(slice_mut(mem, ptr, len)?).map_err(|_| errno::INVAL)?;
        let parts: Vec<&str> = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        match parts.as_slice() {
            [] => Ok(None),
            [name] if *name != ".." => Ok(Some((*name).to_string())),
            _ => Err(errno::NOENT),
        }
    }

    fn path_open(
        &mut self,
        mem: &mut [u8],
        dirfd: u32,
        ptr: u32,
        len: u32,
        oflags: u64,
        out: u32,
    ) -> R {
        let fd = match self.resolve(mem, dirfd, ptr, len)? {
            None => Fd::Dir,
            Some(name) => {
                if oflags & OFLAGS_DIRECTORY != 0 {
                    return Err(errno::NOTDIR);
                }
                let exists = self.files.0.contains_key(&name);
                if exists && oflags & OFLAGS_CREAT != 0 && oflags & OFLAGS_EXCL != 0 {
                    return Err(errno::EXIST);
                }
                if !exists && oflags & OFLAGS_CREAT == 0 {
                    return Err(errno::NOENT);
                }
                if !exists || oflags & OFLAGS_TRUNC != 0 {
                    self.files.0.insert(name.clone(), Arc::new(Vec::new()));
                }
                Fd::File { name, pos: 0 }
            }
        };
        let slot = match self.fds.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.fds.push(None);
                self.fds.len() - 1
            }
        };
        debug_assert!(slot > PREOPEN_FD);
        self.fds[slot] = Some(fd);
        write_u32(mem, out, slot as u32)
    }
}

/// A shim function's outcome: `Err` holds the errno.
type R = Result<(), i32>;

fn slice_mut(mem: &mut [u8], ptr: u32, len: u32) -> Result<&mut [u8], i32> {
    let start = ptr as usize;
    let end = start.checked_add(len as usize).ok_or(errno::FAULT)?;
    mem.get_mut(start..end).ok_or(errno::FAULT)
}

fn write_bytes(mem: &mut [u8], ptr: u32, bytes: &[u8]) -> R {
    slice_mut(mem, ptr, bytes.len() as u32)?.copy_from_slice(bytes);
    Ok(())
}

fn write_u32(mem: &mut [u8], ptr: u32, v: u32) -> R {
    write_bytes(mem, ptr, &v.to_le_bytes())
}

fn write_u64(mem: &mut [u8], ptr: u32, v: u64) -> R {
    write_bytes(mem, ptr, &v.to_le_bytes())
}

/// The `i`th iovec (buffer pointer, length) of the array at `iovs`.
fn iovec(mem: &mut [u8], iovs: u32, i: u32) -> Result<(u32, u32), i32> {
    let raw = slice_mut(mem, iovs + 8 * i, 8)?;
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    Ok((word(&raw[..4]), word(&raw[4..])))
}

/// filestat: dev, ino, filetype (at 16), nlink (24), size (32), three timestamps.
fn write_filestat(mem: &mut [u8], ptr: u32, filetype: u8, size: u64) -> R {
    let mut buf = [0u8; 64];
    buf[16] = filetype;
    buf[24..32].copy_from_slice(&1u64.to_le_bytes());
    buf[32..40].copy_from_slice(&size.to_le_bytes());
    write_bytes(mem, ptr, &buf)
}

/// The function imports of `wasm`, each with the shim function implementing it, if any.
pub fn module_imports(wasm: &[u8]) -> Result<Vec<(String, String, Option<Import>)>, String> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ImportSection(reader) = payload.map_err(|e| e.to_string())? {
            for import in reader.into_imports() {
                let import = import.map_err(|e| e.to_string())?;
                if matches!(import.ty, wasmparser::TypeRef::Func(_)) {
                    out.push((
                        import.module.to_string(),
                        import.name.to_string(),
                        Import::lookup(import.module, import.name),
                    ));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_preloaded_file_and_captures_stdout() {
        let mut files = Files::default();
        files.0.insert("in.txt".into(), Arc::new(b"hello".to_vec()));
        let mut ctx = WasiCtx::new(&["prog"], files);
        let mut mem = vec![0u8; 256];
        mem[100..106].copy_from_slice(b"in.txt");
        let open = [3, 0, 100, 6, 0, 0, 0, 0, 200];
        assert_eq!(ctx.call(Import::PathOpen, &mut mem, &open).unwrap(), 0);
        let fd = u32::from_le_bytes(mem[200..204].try_into().unwrap());
        assert_eq!(fd, 4);
        // One iovec at 0: buffer 32, length 16; nread at 8.
        mem[0..4].copy_from_slice(&32u32.to_le_bytes());
        mem[4..8].copy_from_slice(&16u32.to_le_bytes());
        let read = [u64::from(fd), 0, 1, 8];
        assert_eq!(ctx.call(Import::FdRead, &mut mem, &read).unwrap(), 0);
        assert_eq!(&mem[32..37], b"hello");
        assert_eq!(u32::from_le_bytes(mem[8..12].try_into().unwrap()), 5);
        mem[4..8].copy_from_slice(&5u32.to_le_bytes());
        assert_eq!(
            ctx.call(Import::FdWrite, &mut mem, &[1, 0, 1, 8]).unwrap(),
            0
        );
        assert_eq!(ctx.stdout, b"hello");
        assert!(ctx.call(Import::ProcExit, &mut mem, &[3]).is_err());
        assert_eq!(ctx.exit_code, Some(3));
    }
}
