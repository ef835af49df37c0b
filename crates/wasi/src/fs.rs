//! The filesystem seen by a guest: descriptors are values of [`WasiFile`] and [`WasiDir`].
//! A host directory (cap-std, in `host.rs`) and an in-memory tree (`vfs.rs`) are two
//! implementations of the same traits; the preview1 layer does not know which it holds.

use crate::errno::Errno;
use std::any::Any;
use std::io::SeekFrom;

pub(crate) mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// WASI `filestat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filestat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: u8,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

/// One timestamp of a `*_set_times` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeSet {
    Omit,
    Now,
    /// Nanoseconds since the Unix epoch.
    At(u64),
}

/// What `path_open` asks for, already validated by the preview1 layer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OpenOpts {
    pub follow: bool,
    pub create: bool,
    pub exclusive: bool,
    pub truncate: bool,
    pub directory: bool,
    pub read: bool,
    pub write: bool,
    pub sync: bool,
    pub dsync: bool,
}

pub(crate) enum Opened {
    File(Box<dyn WasiFile>),
    Dir(Box<dyn WasiDir>),
}

/// A directory entry (without `.` and `..`, which the preview1 layer adds).
pub(crate) struct Dirent {
    pub name: String,
    pub ino: u64,
    pub filetype: u8,
}

/// An open regular file (or anything readable/writable that is not a directory).
pub(crate) trait WasiFile: Send {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno>;
    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno>;
    fn pread(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno>;
    fn pwrite(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno>;
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, Errno>;
    fn stat(&self) -> Result<Filestat, Errno>;
    fn set_len(&mut self, len: u64) -> Result<(), Errno>;
    fn set_times(&mut self, atim: TimeSet, mtim: TimeSet) -> Result<(), Errno>;
    fn sync(&mut self, data_only: bool) -> Result<(), Errno>;
}

/// An open directory: the capability to everything beneath it and nothing else.
pub(crate) trait WasiDir: Send {
    fn open(&self, path: &str, opts: &OpenOpts) -> Result<Opened, Errno>;
    fn create_dir(&self, path: &str) -> Result<(), Errno>;
    fn remove_dir(&self, path: &str) -> Result<(), Errno>;
    fn unlink_file(&self, path: &str) -> Result<(), Errno>;
    /// Renames `from` (beneath `self`) to `to` beneath `to_dir`, which must be the same
    /// kind of directory (host or virtual) or the call fails with `XDEV`.
    fn rename(&self, from: &str, to_dir: &dyn WasiDir, to: &str) -> Result<(), Errno>;
    fn link(&self, from: &str, to_dir: &dyn WasiDir, to: &str) -> Result<(), Errno>;
    fn symlink(&self, target: &str, link: &str) -> Result<(), Errno>;
    fn readlink(&self, path: &str) -> Result<Vec<u8>, Errno>;
    fn stat_at(&self, path: &str, follow: bool) -> Result<Filestat, Errno>;
    fn set_times_at(
        &self,
        path: &str,
        follow: bool,
        atim: TimeSet,
        mtim: TimeSet,
    ) -> Result<(), Errno>;
    fn stat(&self) -> Result<Filestat, Errno>;
    fn set_times(&self, atim: TimeSet, mtim: TimeSet) -> Result<(), Errno>;
    fn entries(&self) -> Result<Vec<Dirent>, Errno>;
    fn as_any(&self) -> &dyn Any;
}
