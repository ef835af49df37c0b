//! Host directories and files, through cap-std: a [`HostDir`] holds a `cap_std::fs::Dir`,
//! which resolves every path beneath itself and refuses `..` escapes, absolute paths and
//! symlinks leading outside. Nothing here takes a path relative to the process.

use crate::errno::Errno;
use crate::fs::{filetype, Dirent, Filestat, OpenOpts, Opened, TimeSet, WasiDir, WasiFile};
use cap_fs_ext::{
    DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt,
    OsMetadataExt, SystemTimeSpec,
};
use cap_std::fs::{Dir, FileTypeExt, Metadata, OpenOptions};
use std::any::Any;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Opens the host directory of a preopen: the only use of ambient authority in this crate.
pub(crate) fn open_preopen(host_path: &Path) -> std::io::Result<Dir> {
    Dir::open_ambient_dir(host_path, cap_std::ambient_authority())
}

pub(crate) struct HostDir(pub(crate) Dir);
pub(crate) struct HostFile(pub(crate) std::fs::File);

fn nanos(secs: i64, nsec: i64) -> u64 {
    (secs as i128 * 1_000_000_000 + nsec as i128).clamp(0, u64::MAX as i128) as u64
}

pub(crate) fn filestat(m: &Metadata) -> Filestat {
    let ft = m.file_type();
    let filetype = if ft.is_dir() {
        filetype::DIRECTORY
    } else if ft.is_file() {
        filetype::REGULAR_FILE
    } else if ft.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if ft.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if ft.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if ft.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    };
    Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype,
        nlink: m.nlink(),
        size: m.size(),
        atim: nanos(m.atime(), m.atime_nsec()),
        mtim: nanos(m.mtime(), m.mtime_nsec()),
        ctim: nanos(m.ctime(), m.ctime_nsec()),
    }
}

fn spec(t: TimeSet) -> Option<SystemTimeSpec> {
    match t {
        TimeSet::Omit => None,
        TimeSet::Now => Some(SystemTimeSpec::SymbolicNow),
        TimeSet::At(n) => Some(SystemTimeSpec::Absolute(
            cap_std::time::SystemTime::from_std(UNIX_EPOCH + Duration::from_nanos(n)),
        )),
    }
}

fn std_time(t: TimeSet) -> Option<SystemTime> {
    match t {
        TimeSet::Omit => None,
        TimeSet::Now => Some(SystemTime::now()),
        TimeSet::At(n) => Some(UNIX_EPOCH + Duration::from_nanos(n)),
    }
}

impl WasiFile for HostFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.0.read(buf).map_err(Errno::from)
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno> {
        self.0.write(buf).map_err(Errno::from)
    }

    fn pread(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        self.0.read_at(buf, offset).map_err(Errno::from)
    }

    fn pwrite(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        self.0.write_at(buf, offset).map_err(Errno::from)
    }

    fn seek(&mut self, pos: SeekFrom) -> Result<u64, Errno> {
        self.0.seek(pos).map_err(Errno::from)
    }

    fn stat(&self) -> Result<Filestat, Errno> {
        Ok(filestat(&Metadata::from_file(&self.0)?))
    }

    fn set_len(&mut self, len: u64) -> Result<(), Errno> {
        self.0.set_len(len).map_err(Errno::from)
    }

    fn set_times(&mut self, atim: TimeSet, mtim: TimeSet) -> Result<(), Errno> {
        let mut times = std::fs::FileTimes::new();
        if let Some(t) = std_time(atim) {
            times = times.set_accessed(t);
        }
        if let Some(t) = std_time(mtim) {
            times = times.set_modified(t);
        }
        self.0.set_times(times).map_err(Errno::from)
    }

    fn sync(&mut self, data_only: bool) -> Result<(), Errno> {
        if data_only {
            self.0.sync_data()?;
        } else {
            self.0.sync_all()?;
        }
        Ok(())
    }
}

fn host_dir(d: &dyn WasiDir) -> Result<&HostDir, Errno> {
    d.as_any().downcast_ref::<HostDir>().ok_or(Errno::XDEV)
}

impl WasiDir for HostDir {
    fn open(&self, path: &str, o: &OpenOpts) -> Result<Opened, Errno> {
        if o.directory {
            let dir = if o.follow {
                self.0.open_dir(path)
            } else {
                self.0.open_dir_nofollow(path)
            }?;
            return Ok(Opened::Dir(Box::new(HostDir(dir))));
        }
        let mut opts = OpenOptions::new();
        opts.follow(if o.follow {
            FollowSymlinks::Yes
        } else {
            FollowSymlinks::No
        });
        // The OS needs write access to create or truncate; whether the guest may write
        // through the descriptor is tracked separately by the preview1 layer.
        let write = o.write || o.create || o.truncate;
        opts.read(o.read || !write).write(write);
        if o.create {
            if o.exclusive {
                opts.create_new(true);
            } else {
                opts.create(true);
            }
        }
        opts.truncate(o.truncate);
        opts.maybe_dir(true);
        opts.sync(o.sync).dsync(o.dsync);
        let file = self.0.open_with(path, &opts)?.into_std();
        if file.metadata()?.is_dir() {
            return Ok(Opened::Dir(Box::new(HostDir(Dir::from_std_file(file)))));
        }
        Ok(Opened::File(Box::new(HostFile(file))))
    }

    fn create_dir(&self, path: &str) -> Result<(), Errno> {
        self.0.create_dir(path).map_err(Errno::from)
    }

    fn remove_dir(&self, path: &str) -> Result<(), Errno> {
        self.0.remove_dir(path).map_err(Errno::from)
    }

    fn unlink_file(&self, path: &str) -> Result<(), Errno> {
        self.0.remove_file_or_symlink(path).map_err(Errno::from)
    }

    fn rename(&self, from: &str, to_dir: &dyn WasiDir, to: &str) -> Result<(), Errno> {
        let to_dir = host_dir(to_dir)?;
        self.0.rename(from, &to_dir.0, to).map_err(Errno::from)
    }

    fn link(&self, from: &str, to_dir: &dyn WasiDir, to: &str) -> Result<(), Errno> {
        let to_dir = host_dir(to_dir)?;
        self.0.hard_link(from, &to_dir.0, to).map_err(Errno::from)
    }

    fn symlink(&self, target: &str, link: &str) -> Result<(), Errno> {
        DirExt::symlink(&self.0, target, link).map_err(Errno::from)
    }

    fn readlink(&self, path: &str) -> Result<Vec<u8>, Errno> {
        let target = self.0.read_link_contents(path)?;
        Ok(target.into_os_string().into_encoded_bytes())
    }

    fn stat_at(&self, path: &str, follow: bool) -> Result<Filestat, Errno> {
        let m = if follow {
            self.0.metadata(path)
        } else {
            self.0.symlink_metadata(path)
        }?;
        Ok(filestat(&m))
    }

    fn set_times_at(
        &self,
        path: &str,
        follow: bool,
        atim: TimeSet,
        mtim: TimeSet,
    ) -> Result<(), Errno> {
        if follow {
            self.0.set_times(path, spec(atim), spec(mtim))
        } else {
            self.0.set_symlink_times(path, spec(atim), spec(mtim))
        }
        .map_err(Errno::from)
    }

    fn stat(&self) -> Result<Filestat, Errno> {
        Ok(filestat(&self.0.dir_metadata()?))
    }

    fn set_times(&self, atim: TimeSet, mtim: TimeSet) -> Result<(), Errno> {
        self.0
            .set_times(".", spec(atim), spec(mtim))
            .map_err(Errno::from)
    }

    fn entries(&self) -> Result<Vec<Dirent>, Errno> {
        let mut out = Vec::new();
        for entry in self.0.entries()? {
            let entry = entry?;
            let meta = entry.metadata()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let st = filestat(&meta);
            out.push(Dirent {
                name,
                ino: st.ino,
                filetype: st.filetype,
            });
        }
        Ok(out)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
