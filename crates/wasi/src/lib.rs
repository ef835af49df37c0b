//! # nanoproc-wasi
//!
//! WASI preview1 (`wasi_snapshot_preview1`) for nanoproc, over explicit capabilities.
//!
//! - Owns: every `wasi_snapshot_preview1` host function ([`add_to_linker`]) and the
//!   capability context a guest runs with ([`WasiCtx`], built by [`WasiCtxBuilder`]).
//! - Must never: touch the host filesystem except through a granted `cap_std::fs::Dir`
//!   (the one use of ambient authority opens a preopen's host directory), inherit the
//!   host's arguments, environment or stdio implicitly, or panic on guest input — a bad
//!   guest pointer is the errno `FAULT`.
//!
//! Main types: [`WasiCtxBuilder`] (grants: args, env, preopened host or [`VirtualDir`]
//! directories with [`DirPerms`], [`Stdio`], [`Clock`], [`Random`], [`AuditSink`]),
//! [`WasiCtx`], [`I32Exit`] (what `proc_exit` returns through the engine), [`Errno`].
//!
//! ```
//! use nanoproc_engine::{Engine, Linker, Module, Store};
//! use nanoproc_wasi::{add_to_linker, I32Exit, SharedBuffer, Stdio, WasiCtx, WasiCtxBuilder};
//!
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"
//!   (module
//!     (import "wasi_snapshot_preview1" "fd_write"
//!       (func $fd_write (param i32 i32 i32 i32) (result i32)))
//!     (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 16) "hello\n")
//!     (func (export "_start")
//!       (i32.store (i32.const 0) (i32.const 16))   ;; iov.buf
//!       (i32.store (i32.const 4) (i32.const 6))    ;; iov.len
//!       (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
//!       (call $exit (i32.const 3))))
//! "#)?;
//! let stdout = SharedBuffer::new();
//! let ctx = WasiCtxBuilder::new().stdout(Stdio::Buffer(stdout.clone())).build();
//! let mut store = Store::new(&engine, ctx);
//! let mut linker = Linker::new(&engine);
//! add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
//! let instance = linker.instantiate(&mut store, &module)?;
//! let start = instance.get_typed_func::<(), ()>(&store, "_start")?;
//! let err = start.call(&mut store, ()).unwrap_err();
//! assert_eq!(err.downcast_ref::<I32Exit>(), Some(&I32Exit(3)));
//! assert_eq!(stdout.contents(), b"hello\n");
//! # Ok::<(), nanoproc_engine::Error>(())
//! ```
#![forbid(unsafe_code)]

mod ctx;
mod errno;
mod fs;
mod host;
mod mem;
mod preview1;
mod vfs;

pub use ctx::{
    AuditLevel, AuditSink, Clock, DirPerms, Random, SharedBuffer, Stdio, WasiCtx, WasiCtxBuilder,
    WasiError,
};
pub use errno::Errno;
pub use vfs::VirtualDir;

use mem::GuestMem;
use nanoproc_engine::{Caller, Error, Extern, Linker};

/// The import module name of WASI preview1.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// The guest called `proc_exit(code)`. Returned as `Err(Error::host(I32Exit(code)))` from
/// the call that ran the guest; embedders recover it with `err.downcast_ref::<I32Exit>()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("exited with status {0}")]
pub struct I32Exit(pub i32);

/// Registers every `wasi_snapshot_preview1` function in `linker`. `get` finds the
/// [`WasiCtx`] inside the store's data.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Copy + Send + Sync + 'static,
) -> Result<(), Error> {
    macro_rules! register {
        ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
            linker.func_wrap(
                MODULE,
                stringify!($name),
                move |mut caller: Caller<'_, T>, $($arg: $ty),*| -> Result<i32, Error> {
                    let memory = match caller.get_export("memory") {
                        Some(Extern::Memory(m)) => Some(m),
                        _ => None,
                    };
                    let mut none: [u8; 0] = [];
                    // Without an exported memory every pointer is out of bounds (FAULT).
                    let (bytes, data): (&mut [u8], &mut T) = match memory {
                        Some(m) => m.data_and_store_mut(&mut caller),
                        None => (&mut none[..], caller.data_mut()),
                    };
                    let ctx = get(data);
                    ctx.call_fd = None;
                    ctx.call_path = None;
                    ctx.call_target = None;
                    let mut mem = GuestMem::new(bytes);
                    let errno = match preview1::$name(ctx, &mut mem, $($arg),*) {
                        Ok(()) => Errno::SUCCESS,
                        Err(e) => e,
                    };
                    if let Some(audit) = &mut ctx.audit {
                        audit.record(
                            stringify!($name),
                            ctx.call_fd,
                            ctx.call_path.as_deref(),
                            ctx.call_target.as_deref(),
                            errno,
                        );
                    }
                    Ok(i32::from(errno.0))
                },
            )?;
        )*};
    }

    register! {
        args_get(argv: i32, buf: i32);
        args_sizes_get(count: i32, size: i32);
        environ_get(envp: i32, buf: i32);
        environ_sizes_get(count: i32, size: i32);
        clock_res_get(id: i32, out: i32);
        clock_time_get(id: i32, precision: i64, out: i32);
        fd_advise(fd: i32, offset: i64, len: i64, advice: i32);
        fd_allocate(fd: i32, offset: i64, len: i64);
        fd_close(fd: i32);
        fd_datasync(fd: i32);
        fd_fdstat_get(fd: i32, out: i32);
        fd_fdstat_set_flags(fd: i32, flags: i32);
        fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64);
        fd_filestat_get(fd: i32, out: i32);
        fd_filestat_set_size(fd: i32, size: i64);
        fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, flags: i32);
        fd_pread(fd: i32, iovs: i32, n: i32, offset: i64, out: i32);
        fd_prestat_get(fd: i32, out: i32);
        fd_prestat_dir_name(fd: i32, buf: i32, len: i32);
        fd_pwrite(fd: i32, iovs: i32, n: i32, offset: i64, out: i32);
        fd_read(fd: i32, iovs: i32, n: i32, out: i32);
        fd_readdir(fd: i32, buf: i32, len: i32, cookie: i64, out: i32);
        fd_renumber(from: i32, to: i32);
        fd_seek(fd: i32, offset: i64, whence: i32, out: i32);
        fd_sync(fd: i32);
        fd_tell(fd: i32, out: i32);
        fd_write(fd: i32, iovs: i32, n: i32, out: i32);
        path_create_directory(fd: i32, path: i32, len: i32);
        path_filestat_get(fd: i32, flags: i32, path: i32, len: i32, out: i32);
        path_filestat_set_times(fd: i32, flags: i32, path: i32, len: i32, atim: i64, mtim: i64, fst: i32);
        path_link(old_fd: i32, old_flags: i32, old: i32, old_len: i32, new_fd: i32, new: i32, new_len: i32);
        path_open(fd: i32, dirflags: i32, path: i32, len: i32, oflags: i32, base: i64, inheriting: i64, fdflags: i32, out: i32);
        path_readlink(fd: i32, path: i32, len: i32, buf: i32, buf_len: i32, out: i32);
        path_remove_directory(fd: i32, path: i32, len: i32);
        path_rename(fd: i32, old: i32, old_len: i32, new_fd: i32, new: i32, new_len: i32);
        path_symlink(old: i32, old_len: i32, fd: i32, new: i32, new_len: i32);
        path_unlink_file(fd: i32, path: i32, len: i32);
        poll_oneoff(input: i32, output: i32, n: i32, out_n: i32);
        proc_raise(sig: i32);
        random_get(buf: i32, len: i32);
        sched_yield();
        sock_accept(fd: i32, flags: i32, out: i32);
        sock_recv(fd: i32, iovs: i32, n: i32, flags: i32, out_len: i32, out_flags: i32);
        sock_send(fd: i32, iovs: i32, n: i32, flags: i32, out_len: i32);
        sock_shutdown(fd: i32, how: i32);
    }

    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_caller: Caller<'_, T>, code: i32| -> Result<(), Error> {
            Err(Error::host(I32Exit(code)))
        },
    )?;
    Ok(())
}
