//! The `wasi_snapshot_preview1` functions, each over a [`WasiCtx`] and the guest's memory.
//! Every function returns `Err(errno)` instead of panicking; pointers are checked by
//! [`GuestMem`]. Layouts follow the preview1 witx (`filestat` is 64 bytes, `fdstat` 24,
//! `subscription` 48, `event` 32, `dirent` 24 plus the name).

// The parameter lists are preview1's, fixed by the ABI.
#![allow(clippy::too_many_arguments)]

use crate::ctx::{Desc, DirDesc, FileDesc, StdioDesc, WasiCtx};
use crate::ctx::{DirPerms, Stdio};
use crate::errno::Errno;
use crate::fs::{filetype, Filestat, OpenOpts, Opened, TimeSet};
use crate::mem::GuestMem;
use std::io::{Read, SeekFrom, Write};

type R = Result<(), Errno>;

pub(crate) mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;

    pub const FILE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
    /// Rights reported for directories. As in wasmtime, rights are advisory (they are
    /// reported, never a second permission system); `PATH_FILESTAT_SET_SIZE` is left out
    /// because truncation goes through `path_open`.
    pub const DIR: u64 = FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_ADVISE
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;
}

const FDFLAGS_APPEND: u16 = 1;
const FDFLAGS_DSYNC: u16 = 2;
const FDFLAGS_NONBLOCK: u16 = 4;
const FDFLAGS_RSYNC: u16 = 8;
const FDFLAGS_SYNC: u16 = 16;
const LOOKUP_SYMLINK_FOLLOW: i32 = 1;

fn u(x: i32) -> u32 {
    x as u32
}

/// Reads a guest path and remembers it for the audit log.
fn path<'m>(
    ctx: &mut WasiCtx,
    mem: &'m GuestMem<'_>,
    ptr: i32,
    len: i32,
) -> Result<&'m str, Errno> {
    let s = mem.str(u(ptr), u(len))?;
    ctx.call_path = Some(s.to_string());
    Ok(s)
}

fn writable(perms: DirPerms) -> R {
    if perms.writable() {
        Ok(())
    } else {
        Err(Errno::PERM)
    }
}

fn write_filestat(mem: &mut GuestMem, ptr: i32, st: &Filestat) -> R {
    let mut b = [0u8; 64];
    b[0..8].copy_from_slice(&st.dev.to_le_bytes());
    b[8..16].copy_from_slice(&st.ino.to_le_bytes());
    b[16] = st.filetype;
    b[24..32].copy_from_slice(&st.nlink.to_le_bytes());
    b[32..40].copy_from_slice(&st.size.to_le_bytes());
    b[40..48].copy_from_slice(&st.atim.to_le_bytes());
    b[48..56].copy_from_slice(&st.mtim.to_le_bytes());
    b[56..64].copy_from_slice(&st.ctim.to_le_bytes());
    mem.write(u(ptr), &b)
}

fn time_set(atim: i64, mtim: i64, flags: i32) -> Result<(TimeSet, TimeSet), Errno> {
    const ATIM: i32 = 1;
    const ATIM_NOW: i32 = 2;
    const MTIM: i32 = 4;
    const MTIM_NOW: i32 = 8;
    if flags & !0xf != 0
        || (flags & ATIM != 0 && flags & ATIM_NOW != 0)
        || (flags & MTIM != 0 && flags & MTIM_NOW != 0)
    {
        return Err(Errno::INVAL);
    }
    let pick = |set: i32, now: i32, t: i64| {
        if flags & set != 0 {
            TimeSet::At(t as u64)
        } else if flags & now != 0 {
            TimeSet::Now
        } else {
            TimeSet::Omit
        }
    };
    Ok((pick(ATIM, ATIM_NOW, atim), pick(MTIM, MTIM_NOW, mtim)))
}

// ---- args, environ ----

fn write_strings(mem: &mut GuestMem, list: &[String], ptrs: i32, buf: i32) -> R {
    let mut at = u(buf);
    for (i, s) in list.iter().enumerate() {
        mem.write_u32(u(ptrs).wrapping_add(4 * i as u32), at)?;
        mem.write(at, s.as_bytes())?;
        at = at.checked_add(s.len() as u32).ok_or(Errno::FAULT)?;
        mem.write_u8(at, 0)?;
        at = at.checked_add(1).ok_or(Errno::FAULT)?;
    }
    Ok(())
}

fn write_sizes(mem: &mut GuestMem, list: &[String], count: i32, size: i32) -> R {
    mem.write_u32(u(count), list.len() as u32)?;
    let total: usize = list.iter().map(|s| s.len() + 1).sum();
    mem.write_u32(u(size), total as u32)
}

pub(crate) fn args_get(ctx: &mut WasiCtx, mem: &mut GuestMem, argv: i32, buf: i32) -> R {
    write_strings(mem, &ctx.args, argv, buf)
}

pub(crate) fn args_sizes_get(ctx: &mut WasiCtx, mem: &mut GuestMem, count: i32, size: i32) -> R {
    write_sizes(mem, &ctx.args, count, size)
}

pub(crate) fn environ_get(ctx: &mut WasiCtx, mem: &mut GuestMem, envp: i32, buf: i32) -> R {
    write_strings(mem, &ctx.env, envp, buf)
}

pub(crate) fn environ_sizes_get(ctx: &mut WasiCtx, mem: &mut GuestMem, count: i32, size: i32) -> R {
    write_sizes(mem, &ctx.env, count, size)
}

// ---- clocks, random, scheduling ----

fn clock(ctx: &mut WasiCtx, id: i32) -> Result<&mut crate::ctx::ClockState, Errno> {
    match id {
        0 => Ok(&mut ctx.wall),
        // Process and thread CPU time are answered by the monotonic clock.
        1..=3 => Ok(&mut ctx.mono),
        _ => Err(Errno::INVAL),
    }
}

pub(crate) fn clock_res_get(ctx: &mut WasiCtx, mem: &mut GuestMem, id: i32, out: i32) -> R {
    let res = clock(ctx, id)?.resolution();
    mem.write_u64(u(out), res)
}

pub(crate) fn clock_time_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    id: i32,
    _precision: i64,
    out: i32,
) -> R {
    let t = clock(ctx, id)?.read();
    mem.write_u64(u(out), t)
}

pub(crate) fn random_get(ctx: &mut WasiCtx, mem: &mut GuestMem, buf: i32, len: i32) -> R {
    let buf = mem.slice_mut(u(buf), u(len))?;
    ctx.random.fill(buf)
}

pub(crate) fn sched_yield(_ctx: &mut WasiCtx, _mem: &mut GuestMem) -> R {
    std::thread::yield_now();
    Ok(())
}

pub(crate) fn proc_raise(_ctx: &mut WasiCtx, _mem: &mut GuestMem, _sig: i32) -> R {
    Err(Errno::NOSYS)
}

// ---- stdio ----

fn stdio_read(s: &mut StdioDesc, buf: &mut [u8]) -> Result<usize, Errno> {
    if s.stream != 0 {
        return Err(Errno::BADF);
    }
    match &mut s.io {
        Stdio::Inherit => Ok(std::io::stdin().read(buf)?),
        Stdio::Null => Ok(0),
        Stdio::File(f) => Ok(f.read(buf)?),
        Stdio::Buffer(b) => {
            let data = b.lock();
            let rest = data.get(s.pos..).unwrap_or(&[]);
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            s.pos += n;
            Ok(n)
        }
    }
}

fn stdio_write(s: &mut StdioDesc, buf: &[u8]) -> Result<usize, Errno> {
    if s.stream == 0 {
        return Err(Errno::BADF);
    }
    match &mut s.io {
        Stdio::Inherit => {
            if s.stream == 1 {
                let mut out = std::io::stdout().lock();
                out.write_all(buf)?;
                out.flush()?;
            } else {
                std::io::stderr().write_all(buf)?;
            }
        }
        Stdio::Null => {}
        Stdio::File(f) => f.write_all(buf)?,
        Stdio::Buffer(b) => b.lock().extend_from_slice(buf),
    }
    Ok(buf.len())
}

fn stdio_filetype(s: &StdioDesc) -> u8 {
    use std::io::IsTerminal;
    match &s.io {
        Stdio::Inherit => {
            let tty = match s.stream {
                0 => std::io::stdin().is_terminal(),
                1 => std::io::stdout().is_terminal(),
                _ => std::io::stderr().is_terminal(),
            };
            if tty {
                filetype::CHARACTER_DEVICE
            } else {
                filetype::UNKNOWN
            }
        }
        Stdio::Null => filetype::CHARACTER_DEVICE,
        Stdio::File(f) => f
            .metadata()
            .map(|m| {
                if m.is_file() {
                    filetype::REGULAR_FILE
                } else {
                    filetype::UNKNOWN
                }
            })
            .unwrap_or(filetype::UNKNOWN),
        Stdio::Buffer(_) => filetype::UNKNOWN,
    }
}

// ---- fd_* ----

pub(crate) fn fd_read(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    iovs: i32,
    n: i32,
    out: i32,
) -> R {
    let desc = ctx.get(fd)?;
    let iovs = mem.iovecs(u(iovs), u(n))?;
    let mut total = 0usize;
    for (ptr, len) in iovs {
        let buf = mem.slice_mut(ptr, len)?;
        let got = match desc {
            Desc::Stdio(s) => stdio_read(s, buf)?,
            Desc::File(f) => {
                if !f.read {
                    return Err(Errno::BADF);
                }
                f.file.read(buf)?
            }
            Desc::Dir(_) => return Err(Errno::ISDIR),
        };
        total += got;
        if got < len as usize {
            break;
        }
    }
    mem.write_u32(u(out), total as u32)
}

pub(crate) fn fd_write(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    iovs: i32,
    n: i32,
    out: i32,
) -> R {
    let desc = ctx.get(fd)?;
    let iovs = mem.iovecs(u(iovs), u(n))?;
    if let Desc::File(f) = desc {
        if !f.write {
            return Err(Errno::BADF);
        }
        if f.append {
            f.file.seek(SeekFrom::End(0))?;
        }
    }
    let mut total = 0usize;
    for (ptr, len) in iovs {
        let buf = mem.slice(ptr, len)?;
        let put = match desc {
            Desc::Stdio(s) => stdio_write(s, buf)?,
            Desc::File(f) => f.file.write(buf)?,
            Desc::Dir(_) => return Err(Errno::ISDIR),
        };
        total += put;
        if put < len as usize {
            break;
        }
    }
    mem.write_u32(u(out), total as u32)
}

pub(crate) fn fd_pread(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    iovs: i32,
    n: i32,
    offset: i64,
    out: i32,
) -> R {
    let f = ctx.file(fd)?;
    if !f.read {
        return Err(Errno::BADF);
    }
    let iovs = mem.iovecs(u(iovs), u(n))?;
    let mut total = 0usize;
    for (ptr, len) in iovs {
        let buf = mem.slice_mut(ptr, len)?;
        let got = f
            .file
            .pread(buf, (offset as u64).wrapping_add(total as u64))?;
        total += got;
        if got < len as usize {
            break;
        }
    }
    mem.write_u32(u(out), total as u32)
}

pub(crate) fn fd_pwrite(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    iovs: i32,
    n: i32,
    offset: i64,
    out: i32,
) -> R {
    let f = ctx.file(fd)?;
    if !f.write {
        return Err(Errno::BADF);
    }
    let iovs = mem.iovecs(u(iovs), u(n))?;
    let mut total = 0usize;
    for (ptr, len) in iovs {
        let buf = mem.slice(ptr, len)?;
        let put = f
            .file
            .pwrite(buf, (offset as u64).wrapping_add(total as u64))?;
        total += put;
        if put < len as usize {
            break;
        }
    }
    mem.write_u32(u(out), total as u32)
}

pub(crate) fn fd_seek(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    offset: i64,
    whence: i32,
    out: i32,
) -> R {
    let f = ctx.file(fd)?;
    let pos = match whence {
        0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
        1 => SeekFrom::Current(offset),
        2 => SeekFrom::End(offset),
        _ => return Err(Errno::INVAL),
    };
    let new = f.file.seek(pos)?;
    mem.write_u64(u(out), new)
}

pub(crate) fn fd_tell(ctx: &mut WasiCtx, mem: &mut GuestMem, fd: i32, out: i32) -> R {
    let f = ctx.file(fd)?;
    let pos = f.file.seek(SeekFrom::Current(0))?;
    mem.write_u64(u(out), pos)
}

pub(crate) fn fd_close(ctx: &mut WasiCtx, _mem: &mut GuestMem, fd: i32) -> R {
    ctx.get(fd)?;
    ctx.table.remove(&u(fd));
    Ok(())
}

pub(crate) fn fd_renumber(ctx: &mut WasiCtx, _mem: &mut GuestMem, from: i32, to: i32) -> R {
    ctx.get(to)?;
    ctx.get(from)?;
    if from != to {
        let desc = ctx.table.remove(&u(from)).ok_or(Errno::BADF)?;
        ctx.table.insert(u(to), desc);
    }
    Ok(())
}

pub(crate) fn fd_fdstat_get(ctx: &mut WasiCtx, mem: &mut GuestMem, fd: i32, out: i32) -> R {
    let (ft, flags, base, inheriting) = match ctx.get(fd)? {
        Desc::Stdio(s) => {
            let r = if s.stream == 0 {
                rights::FD_READ
            } else {
                rights::FD_WRITE
            };
            (stdio_filetype(s), 0, r | rights::POLL_FD_READWRITE, 0)
        }
        Desc::File(f) => {
            let mut base = rights::FILE;
            if !f.read {
                base &= !(rights::FD_READ);
            }
            if !f.write {
                base &= !(rights::FD_WRITE);
            }
            let ft = f
                .file
                .stat()
                .map(|s| s.filetype)
                .unwrap_or(filetype::REGULAR_FILE);
            let flags = f.flags | if f.append { FDFLAGS_APPEND } else { 0 };
            (ft, flags, base, 0)
        }
        Desc::Dir(_) => (
            filetype::DIRECTORY,
            0,
            rights::DIR,
            rights::DIR | rights::FILE,
        ),
    };
    let mut b = [0u8; 24];
    b[0] = ft;
    b[2..4].copy_from_slice(&flags.to_le_bytes());
    b[8..16].copy_from_slice(&base.to_le_bytes());
    b[16..24].copy_from_slice(&inheriting.to_le_bytes());
    mem.write(u(out), &b)
}

pub(crate) fn fd_fdstat_set_flags(
    ctx: &mut WasiCtx,
    _mem: &mut GuestMem,
    fd: i32,
    flags: i32,
) -> R {
    let flags = flags as u16;
    if flags & !(FDFLAGS_APPEND | FDFLAGS_DSYNC | FDFLAGS_NONBLOCK | FDFLAGS_RSYNC | FDFLAGS_SYNC)
        != 0
    {
        return Err(Errno::INVAL);
    }
    match ctx.get(fd)? {
        Desc::File(f) => {
            if flags & FDFLAGS_APPEND != 0 && !f.write {
                return Err(Errno::BADF);
            }
            f.append = flags & FDFLAGS_APPEND != 0;
            f.flags = flags & !FDFLAGS_APPEND;
            Ok(())
        }
        Desc::Stdio(_) | Desc::Dir(_) => Ok(()),
    }
}

pub(crate) fn fd_fdstat_set_rights(
    ctx: &mut WasiCtx,
    _mem: &mut GuestMem,
    fd: i32,
    _base: i64,
    _inh: i64,
) -> R {
    // Rights are advisory, as in wasmtime: they cannot be changed.
    ctx.get(fd)?;
    Err(Errno::NOTSUP)
}

pub(crate) fn fd_filestat_get(ctx: &mut WasiCtx, mem: &mut GuestMem, fd: i32, out: i32) -> R {
    let st = match ctx.get(fd)? {
        Desc::File(f) => f.file.stat()?,
        Desc::Dir(d) => d.dir.stat()?,
        Desc::Stdio(s) => match &s.io {
            Stdio::File(f) => {
                let m = cap_std::fs::Metadata::from_file(f)?;
                crate::host::filestat(&m)
            }
            _ => Filestat {
                filetype: stdio_filetype(s),
                ..Filestat::default()
            },
        },
    };
    write_filestat(mem, out, &st)
}

pub(crate) fn fd_filestat_set_size(
    ctx: &mut WasiCtx,
    _mem: &mut GuestMem,
    fd: i32,
    size: i64,
) -> R {
    let f = ctx.file(fd)?;
    writable(f.perms)?;
    if !f.write {
        return Err(Errno::BADF);
    }
    f.file
        .set_len(u64::try_from(size).map_err(|_| Errno::INVAL)?)
}

pub(crate) fn fd_filestat_set_times(
    ctx: &mut WasiCtx,
    _mem: &mut GuestMem,
    fd: i32,
    atim: i64,
    mtim: i64,
    flags: i32,
) -> R {
    let (a, m) = time_set(atim, mtim, flags)?;
    match ctx.get(fd)? {
        Desc::File(f) => {
            writable(f.perms)?;
            f.file.set_times(a, m)
        }
        Desc::Dir(d) => {
            writable(d.perms)?;
            d.dir.set_times(a, m)
        }
        Desc::Stdio(_) => Err(Errno::BADF),
    }
}

pub(crate) fn fd_advise(
    ctx: &mut WasiCtx,
    _mem: &mut GuestMem,
    fd: i32,
    _off: i64,
    _len: i64,
    advice: i32,
) -> R {
    ctx.file(fd)?;
    if !(0..=5).contains(&advice) {
        return Err(Errno::INVAL);
    }
    Ok(())
}

pub(crate) fn fd_allocate(
    ctx: &mut WasiCtx,
    _mem: &mut GuestMem,
    fd: i32,
    offset: i64,
    len: i64,
) -> R {
    let f = ctx.file(fd)?;
    writable(f.perms)?;
    if !f.write {
        return Err(Errno::BADF);
    }
    let (offset, len) = (
        u64::try_from(offset).map_err(|_| Errno::INVAL)?,
        u64::try_from(len).map_err(|_| Errno::INVAL)?,
    );
    if len == 0 {
        return Err(Errno::INVAL);
    }
    let end = offset.checked_add(len).ok_or(Errno::FBIG)?;
    if end > f.file.stat()?.size {
        f.file.set_len(end)?;
    }
    Ok(())
}

fn sync(ctx: &mut WasiCtx, fd: i32, data_only: bool) -> R {
    match ctx.get(fd)? {
        Desc::File(f) => f.file.sync(data_only),
        Desc::Dir(_) => Ok(()),
        Desc::Stdio(_) => Err(Errno::INVAL),
    }
}

pub(crate) fn fd_sync(ctx: &mut WasiCtx, _mem: &mut GuestMem, fd: i32) -> R {
    sync(ctx, fd, false)
}

pub(crate) fn fd_datasync(ctx: &mut WasiCtx, _mem: &mut GuestMem, fd: i32) -> R {
    sync(ctx, fd, true)
}

pub(crate) fn fd_prestat_get(ctx: &mut WasiCtx, mem: &mut GuestMem, fd: i32, out: i32) -> R {
    match ctx.get(fd)? {
        Desc::Dir(DirDesc {
            preopen: Some(name),
            ..
        }) => {
            let len = name.len() as u32;
            mem.write_u32(u(out), 0)?;
            mem.write_u32(u(out).wrapping_add(4), len)
        }
        _ => Err(Errno::BADF),
    }
}

pub(crate) fn fd_prestat_dir_name(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    buf: i32,
    len: i32,
) -> R {
    match ctx.get(fd)? {
        Desc::Dir(DirDesc {
            preopen: Some(name),
            ..
        }) => {
            if (u(len) as usize) < name.len() {
                return Err(Errno::NAMETOOLONG);
            }
            mem.write(u(buf), name.as_bytes())
        }
        _ => Err(Errno::BADF),
    }
}

pub(crate) fn fd_readdir(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    buf: i32,
    buf_len: i32,
    cookie: i64,
    out: i32,
) -> R {
    let d = match ctx.get(fd)? {
        Desc::Dir(d) => d,
        _ => return Err(Errno::NOTDIR),
    };
    let this = d.dir.stat()?;
    let mut entries = d.dir.entries()?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let all = [
        (".", this.ino, filetype::DIRECTORY),
        ("..", 0, filetype::DIRECTORY),
    ]
    .into_iter()
    .chain(entries.iter().map(|e| (e.name.as_str(), e.ino, e.filetype)));
    let cap = u(buf_len) as usize;
    let mut bytes = Vec::new();
    for (i, (name, ino, ft)) in all.enumerate().skip(cookie as u64 as usize) {
        if bytes.len() >= cap {
            break;
        }
        bytes.extend_from_slice(&(i as u64 + 1).to_le_bytes());
        bytes.extend_from_slice(&ino.to_le_bytes());
        bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&[ft, 0, 0, 0]);
        bytes.extend_from_slice(name.as_bytes());
    }
    bytes.truncate(cap);
    mem.write(u(buf), &bytes)?;
    mem.write_u32(u(out), bytes.len() as u32)
}

// ---- path_* ----

pub(crate) fn path_create_directory(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    p: i32,
    len: i32,
) -> R {
    let p = path(ctx, mem, p, len)?;
    let d = ctx.dir(fd)?;
    if let Err(denied) = writable(d.perms) {
        // As on a read-only Linux mount: an existing directory is EXIST, so programs that
        // "create if missing" (Rust's `create_dir_all`) still work under a read-only grant.
        // Only names inside the preopen are looked at; anything else stays refused.
        return match d.dir.stat_at(p, false) {
            Ok(_) => Err(Errno::EXIST),
            Err(_) => Err(denied),
        };
    }
    d.dir.create_dir(p)
}

pub(crate) fn path_remove_directory(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    p: i32,
    len: i32,
) -> R {
    let p = path(ctx, mem, p, len)?;
    let d = ctx.dir(fd)?;
    writable(d.perms)?;
    d.dir.remove_dir(p)
}

pub(crate) fn path_unlink_file(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    p: i32,
    len: i32,
) -> R {
    let p = path(ctx, mem, p, len)?;
    let d = ctx.dir(fd)?;
    writable(d.perms)?;
    d.dir.unlink_file(p)
}

pub(crate) fn path_filestat_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    flags: i32,
    p: i32,
    len: i32,
    out: i32,
) -> R {
    let p = path(ctx, mem, p, len)?;
    let d = ctx.dir(fd)?;
    let st = d.dir.stat_at(p, flags & LOOKUP_SYMLINK_FOLLOW != 0)?;
    write_filestat(mem, out, &st)
}

pub(crate) fn path_filestat_set_times(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    flags: i32,
    p: i32,
    len: i32,
    atim: i64,
    mtim: i64,
    fst: i32,
) -> R {
    let p = path(ctx, mem, p, len)?;
    let (a, m) = time_set(atim, mtim, fst)?;
    let d = ctx.dir(fd)?;
    writable(d.perms)?;
    d.dir
        .set_times_at(p, flags & LOOKUP_SYMLINK_FOLLOW != 0, a, m)
}

fn two_dirs(ctx: &WasiCtx, a: i32, b: i32) -> Result<(&DirDesc, &DirDesc), Errno> {
    let get = |fd: i32| match ctx.table.get(&u(fd)) {
        Some(Desc::Dir(d)) => Ok(d),
        Some(_) => Err(Errno::NOTDIR),
        None => Err(Errno::BADF),
    };
    Ok((get(a)?, get(b)?))
}

pub(crate) fn path_link(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    old_fd: i32,
    old_flags: i32,
    old: i32,
    old_len: i32,
    new_fd: i32,
    new: i32,
    new_len: i32,
) -> R {
    ctx.call_fd = Some(u(old_fd));
    let old = path(ctx, mem, old, old_len)?;
    let new = mem.str(u(new), u(new_len))?;
    ctx.call_target = Some(new.to_string());
    let (src, dst) = two_dirs(ctx, old_fd, new_fd)?;
    writable(src.perms)?;
    writable(dst.perms)?;
    if old_flags & LOOKUP_SYMLINK_FOLLOW != 0 {
        // Following the source symlink is not supported (as in wasmtime).
        return Err(Errno::INVAL);
    }
    src.dir.link(old, dst.dir.as_ref(), new)
}

pub(crate) fn path_rename(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    old: i32,
    old_len: i32,
    new_fd: i32,
    new: i32,
    new_len: i32,
) -> R {
    ctx.call_fd = Some(u(fd));
    let old = path(ctx, mem, old, old_len)?;
    let new = mem.str(u(new), u(new_len))?;
    ctx.call_target = Some(new.to_string());
    let (src, dst) = two_dirs(ctx, fd, new_fd)?;
    writable(src.perms)?;
    writable(dst.perms)?;
    src.dir.rename(old, dst.dir.as_ref(), new)
}

pub(crate) fn path_symlink(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    old: i32,
    old_len: i32,
    fd: i32,
    new: i32,
    new_len: i32,
) -> R {
    let target = mem.str(u(old), u(old_len))?;
    ctx.call_target = Some(target.to_string());
    let link = path(ctx, mem, new, new_len)?;
    let d = ctx.dir(fd)?;
    writable(d.perms)?;
    d.dir.symlink(target, link)
}

pub(crate) fn path_readlink(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    p: i32,
    len: i32,
    buf: i32,
    buf_len: i32,
    out: i32,
) -> R {
    let p = path(ctx, mem, p, len)?;
    let d = ctx.dir(fd)?;
    let mut target = d.dir.readlink(p)?;
    target.truncate(u(buf_len) as usize);
    mem.write(u(buf), &target)?;
    mem.write_u32(u(out), target.len() as u32)
}

pub(crate) fn path_open(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    fd: i32,
    dirflags: i32,
    p: i32,
    len: i32,
    oflags: i32,
    base: i64,
    _inheriting: i64,
    fdflags: i32,
    out: i32,
) -> R {
    const CREAT: i32 = 1;
    const DIRECTORY: i32 = 2;
    const EXCL: i32 = 4;
    const TRUNC: i32 = 8;
    let p = path(ctx, mem, p, len)?;
    // Check where the new fd goes before opening (or creating) anything: a bad pointer
    // must neither leave a file behind nor leak a descriptor into the table.
    mem.slice(u(out), 4)?;
    let fdflags = fdflags as u16;
    let base = base as u64;
    if oflags & !0xf != 0 {
        return Err(Errno::INVAL);
    }
    let directory = oflags & DIRECTORY != 0;
    let append = fdflags & FDFLAGS_APPEND != 0;
    let mut o = OpenOpts {
        follow: dirflags & LOOKUP_SYMLINK_FOLLOW != 0,
        create: oflags & CREAT != 0,
        exclusive: oflags & EXCL != 0,
        truncate: oflags & TRUNC != 0,
        directory,
        read: base & (rights::FD_READ | rights::FD_READDIR) != 0,
        write: append
            || base
                & (rights::FD_DATASYNC
                    | rights::FD_WRITE
                    | rights::FD_ALLOCATE
                    | rights::FD_FILESTAT_SET_SIZE)
                != 0,
        sync: fdflags & (FDFLAGS_SYNC | FDFLAGS_RSYNC) != 0,
        dsync: fdflags & FDFLAGS_DSYNC != 0,
    };
    if directory {
        if o.create || o.exclusive || o.truncate {
            return Err(Errno::INVAL);
        }
        // A directory cannot be opened for writing (the test suite expects ISDIR).
        if o.write {
            return Err(Errno::ISDIR);
        }
    }
    if !o.read && !o.write {
        o.read = true;
    }
    let d = ctx.dir(fd)?;
    let perms = d.perms;
    if !perms.writable() && (o.create || o.truncate || o.write) {
        return Err(Errno::PERM);
    }
    let desc = match d.dir.open(p, &o)? {
        Opened::File(file) => Desc::File(FileDesc {
            file,
            read: o.read,
            write: o.write,
            append,
            flags: fdflags & !FDFLAGS_APPEND,
            perms,
        }),
        Opened::Dir(dir) => {
            if o.write {
                return Err(Errno::ISDIR);
            }
            Desc::Dir(DirDesc {
                dir,
                preopen: None,
                perms,
            })
        }
    };
    let new = ctx.insert(desc)?;
    mem.write_u32(u(out), new)
}

// ---- poll_oneoff ----

pub(crate) fn poll_oneoff(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem,
    input: i32,
    output: i32,
    n: i32,
    out_n: i32,
) -> R {
    const EVENTTYPE_CLOCK: u8 = 0;
    const EVENTTYPE_FD_READ: u8 = 1;
    const EVENTTYPE_FD_WRITE: u8 = 2;
    const ABSTIME: u16 = 1;
    let n = u(n);
    if n == 0 {
        return Err(Errno::INVAL);
    }
    // Check both arrays before doing anything.
    mem.slice(u(input), n.checked_mul(48).ok_or(Errno::FAULT)?)?;
    mem.slice(u(output), n.checked_mul(32).ok_or(Errno::FAULT)?)?;
    // (userdata, errno, type, nbytes)
    let mut events: Vec<(u64, Errno, u8, u64)> = Vec::new();
    // (userdata, clock id, deadline on that clock, time left)
    let mut clocks: Vec<(u64, i32, u64, u64)> = Vec::new();
    for i in 0..n {
        let at = u(input) + i * 48;
        let userdata = mem.read_u64(at)?;
        let tag = mem.read_u8(at + 8)?;
        match tag {
            EVENTTYPE_CLOCK => {
                let id = mem.read_u32(at + 16)? as i32;
                let timeout = mem.read_u64(at + 24)?;
                let flags = mem.read_u16(at + 40)?;
                match clock(ctx, id) {
                    Ok(c) => {
                        let now = c.peek();
                        let deadline = if flags & ABSTIME != 0 {
                            timeout
                        } else {
                            now.saturating_add(timeout)
                        };
                        clocks.push((userdata, id, deadline, deadline.saturating_sub(now)));
                    }
                    Err(e) => events.push((userdata, e, EVENTTYPE_CLOCK, 0)),
                }
            }
            EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE => {
                let fd = mem.read_u32(at + 16)?;
                let ready = match ctx.table.get_mut(&fd) {
                    None => Err(Errno::BADF),
                    Some(Desc::Dir(_)) => Err(Errno::BADF),
                    Some(Desc::File(f)) if tag == EVENTTYPE_FD_READ => {
                        let size = f.file.stat().map(|s| s.size).unwrap_or(0);
                        let pos = f.file.seek(SeekFrom::Current(0)).unwrap_or(0);
                        Ok(size.saturating_sub(pos))
                    }
                    Some(Desc::Stdio(s)) if tag == EVENTTYPE_FD_READ => match &s.io {
                        Stdio::Buffer(b) => Ok(b.lock().len().saturating_sub(s.pos) as u64),
                        _ => Ok(0),
                    },
                    Some(_) => Ok(0),
                };
                match ready {
                    Ok(nbytes) => events.push((userdata, Errno::SUCCESS, tag, nbytes)),
                    Err(e) => events.push((userdata, e, tag, 0)),
                }
            }
            _ => return Err(Errno::INVAL),
        }
    }
    if events.is_empty() {
        // Nothing is ready: wait for the first timeout (a virtual clock jumps to it).
        if let Some(&(_, id, deadline, left)) = clocks.iter().min_by_key(|c| c.3) {
            clock(ctx, id)?.wait_until(deadline);
            for &(userdata, _, _, other_left) in &clocks {
                if other_left <= left {
                    events.push((userdata, Errno::SUCCESS, EVENTTYPE_CLOCK, 0));
                }
            }
        }
    }
    for (i, (userdata, errno, ty, nbytes)) in events.iter().enumerate() {
        let mut b = [0u8; 32];
        b[0..8].copy_from_slice(&userdata.to_le_bytes());
        b[8..10].copy_from_slice(&errno.0.to_le_bytes());
        b[10] = *ty;
        b[16..24].copy_from_slice(&nbytes.to_le_bytes());
        mem.write(u(output) + i as u32 * 32, &b)?;
    }
    mem.write_u32(u(out_n), events.len() as u32)
}

// ---- sockets: none can be granted, so every descriptor is "not a socket" ----

fn not_socket(ctx: &mut WasiCtx, fd: i32) -> R {
    ctx.get(fd)?;
    Err(Errno::NOTSOCK)
}

pub(crate) fn sock_accept(
    ctx: &mut WasiCtx,
    _mem: &mut GuestMem,
    fd: i32,
    _flags: i32,
    _out: i32,
) -> R {
    not_socket(ctx, fd)
}

pub(crate) fn sock_recv(
    ctx: &mut WasiCtx,
    _mem: &mut GuestMem,
    fd: i32,
    _iovs: i32,
    _n: i32,
    _flags: i32,
    _out_len: i32,
    _out_flags: i32,
) -> R {
    not_socket(ctx, fd)
}

pub(crate) fn sock_send(
    ctx: &mut WasiCtx,
    _mem: &mut GuestMem,
    fd: i32,
    _iovs: i32,
    _n: i32,
    _flags: i32,
    _out_len: i32,
) -> R {
    not_socket(ctx, fd)
}

pub(crate) fn sock_shutdown(ctx: &mut WasiCtx, _mem: &mut GuestMem, fd: i32, _how: i32) -> R {
    not_socket(ctx, fd)
}
