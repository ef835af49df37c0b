//! An in-memory directory tree a guest can be granted instead of a host directory: for
//! programs that must see files but touch no disk. Built programmatically or copied from a
//! host folder at start; the embedder keeps a clone of the [`VirtualDir`] to read results.
//!
//! Paths resolve beneath the preopen exactly as with cap-std: absolute paths and `..`
//! above the preopen are refused with `NOTCAPABLE`. There are no symlinks; hard links to
//! files are supported. Timestamps start at 0 and change only through `*_set_times`, so
//! runs are deterministic.

use crate::ctx::WasiError;
use crate::errno::Errno;
use crate::fs::{filetype, Dirent, Filestat, OpenOpts, Opened, TimeSet, WasiDir, WasiFile};
use std::any::Any;
use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// Device number reported for virtual files.
const VIRTUAL_DEV: u64 = 0x7669_7274; // "virt"

enum Kind {
    File(Vec<u8>),
    Dir(BTreeMap<String, Arc<Node>>),
}

struct Inner {
    kind: Kind,
    atim: u64,
    mtim: u64,
}

struct Node {
    ino: u64,
    inner: Mutex<Inner>,
}

impl Node {
    fn new(kind: Kind) -> Arc<Node> {
        Arc::new(Node {
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            inner: Mutex::new(Inner {
                kind,
                atim: 0,
                mtim: 0,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_dir(&self) -> bool {
        matches!(self.lock().kind, Kind::Dir(_))
    }

    fn child(&self, name: &str) -> Result<Option<Arc<Node>>, Errno> {
        match &self.lock().kind {
            Kind::Dir(entries) => Ok(entries.get(name).cloned()),
            Kind::File(_) => Err(Errno::NOTDIR),
        }
    }

    fn stat(self: &Arc<Node>) -> Filestat {
        let inner = self.lock();
        let (ft, size) = match &inner.kind {
            Kind::File(data) => (filetype::REGULAR_FILE, data.len() as u64),
            Kind::Dir(entries) => (filetype::DIRECTORY, entries.len() as u64),
        };
        Filestat {
            dev: VIRTUAL_DEV,
            ino: self.ino,
            filetype: ft,
            // Each directory entry holding this node is one link (`Arc` counts them plus
            // open descriptors, which is close enough for a virtual tree).
            nlink: 1,
            size,
            atim: inner.atim,
            mtim: inner.mtim,
            ctim: inner.mtim,
        }
    }

    fn set_times(&self, atim: TimeSet, mtim: TimeSet) {
        let now = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        };
        let mut inner = self.lock();
        match atim {
            TimeSet::Omit => {}
            TimeSet::Now => inner.atim = now(),
            TimeSet::At(t) => inner.atim = t,
        }
        match mtim {
            TimeSet::Omit => {}
            TimeSet::Now => inner.mtim = now(),
            TimeSet::At(t) => inner.mtim = t,
        }
    }
}

/// An in-memory directory tree. Cloning shares the tree: what the guest writes is visible
/// through every clone.
#[derive(Clone)]
pub struct VirtualDir {
    root: Arc<Node>,
}

impl Default for VirtualDir {
    fn default() -> Self {
        VirtualDir::new()
    }
}

impl std::fmt::Debug for VirtualDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualDir")
            .field("ino", &self.root.ino)
            .finish()
    }
}

impl VirtualDir {
    /// An empty directory.
    pub fn new() -> VirtualDir {
        VirtualDir {
            root: Node::new(Kind::Dir(BTreeMap::new())),
        }
    }

    fn ensure_dir(&self, path: &str) -> Arc<Node> {
        let mut node = self.root.clone();
        for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
            let next = {
                let mut inner = node.lock();
                if !matches!(inner.kind, Kind::Dir(_)) {
                    inner.kind = Kind::Dir(BTreeMap::new());
                }
                match &mut inner.kind {
                    Kind::Dir(entries) => entries
                        .entry(part.to_string())
                        .or_insert_with(|| Node::new(Kind::Dir(BTreeMap::new())))
                        .clone(),
                    Kind::File(_) => unreachable!("made a directory above"),
                }
            };
            node = next;
        }
        node
    }

    /// Adds (or replaces) a file at `path` (`/`-separated, relative to this directory),
    /// creating parent directories.
    pub fn file(self, path: &str, bytes: impl Into<Vec<u8>>) -> VirtualDir {
        let (parent, name) = match path.trim_end_matches('/').rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => ("", path),
        };
        let dir = self.ensure_dir(parent);
        if let Kind::Dir(entries) = &mut dir.lock().kind {
            entries.insert(name.to_string(), Node::new(Kind::File(bytes.into())));
        }
        self
    }

    /// Adds a directory at `path`, creating parents.
    pub fn dir(self, path: &str) -> VirtualDir {
        self.ensure_dir(path);
        self
    }

    /// Copies a host folder (files and directories; symlinks and special files are
    /// skipped) into a new virtual directory. The host is not touched afterwards.
    pub fn from_host(path: impl AsRef<Path>) -> Result<VirtualDir, WasiError> {
        let path = path.as_ref();
        let err = |source| WasiError::VirtualLoad {
            path: path.display().to_string(),
            source,
        };
        let dir = crate::host::open_preopen(path).map_err(err)?;
        let vdir = VirtualDir::new();
        load(&dir, &vdir.root).map_err(err)?;
        Ok(vdir)
    }

    /// The contents of the file at `path`, if there is one.
    pub fn read(&self, path: &str) -> Option<Vec<u8>> {
        let handle = self.handle();
        let stack = handle.resolve(path).ok()?;
        let node = stack.last()?;
        let inner = node.lock();
        match &inner.kind {
            Kind::File(data) => Some(data.clone()),
            Kind::Dir(_) => None,
        }
    }

    /// The names in the directory at `path` (`""` for this one), sorted.
    pub fn list(&self, path: &str) -> Option<Vec<String>> {
        let handle = self.handle();
        let stack = handle
            .resolve(if path.is_empty() { "." } else { path })
            .ok()?;
        let node = stack.last()?;
        let inner = node.lock();
        match &inner.kind {
            Kind::Dir(entries) => Some(entries.keys().cloned().collect()),
            Kind::File(_) => None,
        }
    }

    pub(crate) fn handle(&self) -> VDir {
        VDir {
            stack: vec![self.root.clone()],
        }
    }
}

fn load(dir: &cap_std::fs::Dir, node: &Arc<Node>) -> std::io::Result<()> {
    for entry in dir.entries()? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ft = entry.file_type()?;
        let child = if ft.is_dir() {
            let child = Node::new(Kind::Dir(BTreeMap::new()));
            load(&entry.open_dir()?, &child)?;
            child
        } else if ft.is_file() {
            Node::new(Kind::File(dir.read(entry.file_name())?))
        } else {
            continue;
        };
        if let Kind::Dir(entries) = &mut node.lock().kind {
            entries.insert(name, child);
        }
    }
    Ok(())
}

/// A directory descriptor inside a virtual tree: the chain of nodes from the preopen's
/// root to this directory, so `..` can go up but never above the root.
pub(crate) struct VDir {
    stack: Vec<Arc<Node>>,
}

struct Parsed<'p> {
    parts: Vec<&'p str>,
    trailing_slash: bool,
}

fn parse(path: &str) -> Result<Parsed<'_>, Errno> {
    if path.is_empty() {
        return Err(Errno::NOENT);
    }
    if path.starts_with('/') {
        return Err(Errno::NOTCAPABLE);
    }
    if path.contains('\0') {
        return Err(Errno::INVAL);
    }
    Ok(Parsed {
        parts: path.split('/').filter(|p| !p.is_empty()).collect(),
        trailing_slash: path.ends_with('/'),
    })
}

impl VDir {
    /// Walks `parts` from this directory.
    fn walk(&self, parts: &[&str]) -> Result<Vec<Arc<Node>>, Errno> {
        let mut stack = self.stack.clone();
        for part in parts {
            match *part {
                "." => {}
                ".." => {
                    if stack.len() == 1 {
                        return Err(Errno::NOTCAPABLE);
                    }
                    stack.pop();
                }
                name => {
                    let top = stack.last().ok_or(Errno::NOENT)?;
                    let next = top.child(name)?.ok_or(Errno::NOENT)?;
                    stack.push(next);
                }
            }
        }
        Ok(stack)
    }

    fn resolve(&self, path: &str) -> Result<Vec<Arc<Node>>, Errno> {
        let p = parse(path)?;
        let stack = self.walk(&p.parts)?;
        let node = stack.last().ok_or(Errno::NOENT)?;
        if p.trailing_slash && !node.is_dir() {
            return Err(Errno::NOTDIR);
        }
        Ok(stack)
    }

    /// The parent directory chain of `path` and its final name (never `.` or `..`).
    fn parent<'p>(&self, path: &'p str) -> Result<(Vec<Arc<Node>>, &'p str, bool), Errno> {
        let p = parse(path)?;
        let (last, dirs) = p.parts.split_last().ok_or(Errno::EXIST)?;
        if *last == "." || *last == ".." {
            return Err(Errno::INVAL);
        }
        let stack = self.walk(dirs)?;
        if !stack.last().ok_or(Errno::NOENT)?.is_dir() {
            return Err(Errno::NOTDIR);
        }
        Ok((stack, last, p.trailing_slash))
    }

    fn node(&self) -> &Arc<Node> {
        // The stack always holds at least the root.
        &self.stack[self.stack.len() - 1]
    }
}

fn entries_mut<'a>(
    inner: &'a mut MutexGuard<'_, Inner>,
) -> Result<&'a mut BTreeMap<String, Arc<Node>>, Errno> {
    match &mut inner.kind {
        Kind::Dir(entries) => Ok(entries),
        Kind::File(_) => Err(Errno::NOTDIR),
    }
}

impl WasiDir for VDir {
    fn open(&self, path: &str, o: &OpenOpts) -> Result<Opened, Errno> {
        let stack = match self.resolve(path) {
            Ok(stack) => {
                if o.create && o.exclusive {
                    return Err(Errno::EXIST);
                }
                stack
            }
            Err(Errno::NOENT) if o.create => {
                let (mut stack, name, trailing) = self.parent(path)?;
                if trailing {
                    return Err(Errno::ISDIR);
                }
                let file = Node::new(Kind::File(Vec::new()));
                let dir = stack.last().ok_or(Errno::NOENT)?.clone();
                entries_mut(&mut dir.lock())?.insert(name.to_string(), file.clone());
                stack.push(file);
                stack
            }
            Err(e) => return Err(e),
        };
        let node = stack.last().ok_or(Errno::NOENT)?.clone();
        if node.is_dir() {
            if o.write || o.truncate {
                return Err(Errno::ISDIR);
            }
            return Ok(Opened::Dir(Box::new(VDir { stack })));
        }
        if o.directory {
            return Err(Errno::NOTDIR);
        }
        if o.truncate {
            if let Kind::File(data) = &mut node.lock().kind {
                data.clear();
            }
        }
        Ok(Opened::File(Box::new(VFile { node, pos: 0 })))
    }

    fn create_dir(&self, path: &str) -> Result<(), Errno> {
        let (stack, name, _) = self.parent(path)?;
        let dir = stack.last().ok_or(Errno::NOENT)?;
        let mut inner = dir.lock();
        let entries = entries_mut(&mut inner)?;
        if entries.contains_key(name) {
            return Err(Errno::EXIST);
        }
        entries.insert(name.to_string(), Node::new(Kind::Dir(BTreeMap::new())));
        Ok(())
    }

    fn remove_dir(&self, path: &str) -> Result<(), Errno> {
        let (stack, name, _) = self.parent(path)?;
        let dir = stack.last().ok_or(Errno::NOENT)?;
        let mut inner = dir.lock();
        let entries = entries_mut(&mut inner)?;
        let node = entries.get(name).ok_or(Errno::NOENT)?;
        match &node.lock().kind {
            Kind::Dir(children) if children.is_empty() => {}
            Kind::Dir(_) => return Err(Errno::NOTEMPTY),
            Kind::File(_) => return Err(Errno::NOTDIR),
        }
        entries.remove(name);
        Ok(())
    }

    fn unlink_file(&self, path: &str) -> Result<(), Errno> {
        let (stack, name, trailing) = self.parent(path)?;
        let dir = stack.last().ok_or(Errno::NOENT)?;
        let mut inner = dir.lock();
        let entries = entries_mut(&mut inner)?;
        let node = entries.get(name).ok_or(Errno::NOENT)?;
        if node.is_dir() {
            return Err(Errno::ISDIR);
        }
        if trailing {
            return Err(Errno::NOTDIR);
        }
        entries.remove(name);
        Ok(())
    }

    fn rename(&self, from: &str, to_dir: &dyn WasiDir, to: &str) -> Result<(), Errno> {
        let to_dir = to_dir.as_any().downcast_ref::<VDir>().ok_or(Errno::XDEV)?;
        let (src_stack, src_name, _) = self.parent(from)?;
        let (dst_stack, dst_name, _) = to_dir.parent(to)?;
        let src_dir = src_stack.last().ok_or(Errno::NOENT)?.clone();
        let dst_dir = dst_stack.last().ok_or(Errno::NOENT)?.clone();
        let node = src_dir.child(src_name)?.ok_or(Errno::NOENT)?;
        // A directory cannot move beneath itself.
        if dst_stack.iter().any(|n| Arc::ptr_eq(n, &node)) {
            return Err(Errno::INVAL);
        }
        if let Some(existing) = dst_dir.child(dst_name)? {
            if Arc::ptr_eq(&existing, &node) {
                return Ok(());
            }
            match (node.is_dir(), &existing.lock().kind) {
                (true, Kind::Dir(children)) if !children.is_empty() => return Err(Errno::NOTEMPTY),
                (true, Kind::File(_)) => return Err(Errno::NOTDIR),
                (false, Kind::Dir(_)) => return Err(Errno::ISDIR),
                _ => {}
            }
        }
        entries_mut(&mut src_dir.lock())?.remove(src_name);
        entries_mut(&mut dst_dir.lock())?.insert(dst_name.to_string(), node);
        Ok(())
    }

    fn link(&self, from: &str, to_dir: &dyn WasiDir, to: &str) -> Result<(), Errno> {
        let to_dir = to_dir.as_any().downcast_ref::<VDir>().ok_or(Errno::XDEV)?;
        let stack = self.resolve(from)?;
        let node = stack.last().ok_or(Errno::NOENT)?.clone();
        if node.is_dir() {
            return Err(Errno::PERM);
        }
        let (dst_stack, dst_name, _) = to_dir.parent(to)?;
        let dst_dir = dst_stack.last().ok_or(Errno::NOENT)?;
        let mut inner = dst_dir.lock();
        let entries = entries_mut(&mut inner)?;
        if entries.contains_key(dst_name) {
            return Err(Errno::EXIST);
        }
        entries.insert(dst_name.to_string(), node);
        Ok(())
    }

    fn symlink(&self, _target: &str, _link: &str) -> Result<(), Errno> {
        Err(Errno::NOTSUP)
    }

    fn readlink(&self, path: &str) -> Result<Vec<u8>, Errno> {
        self.resolve(path)?;
        Err(Errno::INVAL)
    }

    fn stat_at(&self, path: &str, _follow: bool) -> Result<Filestat, Errno> {
        let stack = self.resolve(path)?;
        Ok(stack.last().ok_or(Errno::NOENT)?.stat())
    }

    fn set_times_at(
        &self,
        path: &str,
        _follow: bool,
        atim: TimeSet,
        mtim: TimeSet,
    ) -> Result<(), Errno> {
        let stack = self.resolve(path)?;
        stack.last().ok_or(Errno::NOENT)?.set_times(atim, mtim);
        Ok(())
    }

    fn stat(&self) -> Result<Filestat, Errno> {
        Ok(self.node().stat())
    }

    fn set_times(&self, atim: TimeSet, mtim: TimeSet) -> Result<(), Errno> {
        self.node().set_times(atim, mtim);
        Ok(())
    }

    fn entries(&self) -> Result<Vec<Dirent>, Errno> {
        let children: Vec<(String, Arc<Node>)> = match &self.node().lock().kind {
            Kind::Dir(entries) => entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            Kind::File(_) => return Err(Errno::NOTDIR),
        };
        Ok(children
            .into_iter()
            .map(|(name, node)| {
                let st = node.stat();
                Dirent {
                    name,
                    ino: st.ino,
                    filetype: st.filetype,
                }
            })
            .collect())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open virtual file: the node plus this descriptor's position.
struct VFile {
    node: Arc<Node>,
    pos: u64,
}

impl VFile {
    fn with_data<X>(&self, f: impl FnOnce(&mut Vec<u8>) -> X) -> Result<X, Errno> {
        match &mut self.node.lock().kind {
            Kind::File(data) => Ok(f(data)),
            Kind::Dir(_) => Err(Errno::ISDIR),
        }
    }
}

fn read_at(data: &[u8], buf: &mut [u8], offset: u64) -> usize {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let n = (data.len() - start).min(buf.len());
    buf[..n].copy_from_slice(&data[start..start + n]);
    n
}

/// Largest virtual file: keeps a guest from exhausting host memory with one seek+write.
const MAX_VIRTUAL_FILE: u64 = 1 << 30;

fn write_at(data: &mut Vec<u8>, buf: &[u8], offset: u64) -> Result<usize, Errno> {
    let end = offset.checked_add(buf.len() as u64).ok_or(Errno::FBIG)?;
    if end > MAX_VIRTUAL_FILE {
        return Err(Errno::FBIG);
    }
    let (start, end) = (offset as usize, end as usize);
    if data.len() < end {
        data.resize(end, 0);
    }
    data[start..end].copy_from_slice(buf);
    Ok(buf.len())
}

impl WasiFile for VFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        let pos = self.pos;
        let n = self.with_data(|d| read_at(d, buf, pos))?;
        self.pos += n as u64;
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno> {
        let pos = self.pos;
        let n = self.with_data(|d| write_at(d, buf, pos))??;
        self.pos += n as u64;
        Ok(n)
    }

    fn pread(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        self.with_data(|d| read_at(d, buf, offset))
    }

    fn pwrite(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        self.with_data(|d| write_at(d, buf, offset))?
    }

    fn seek(&mut self, pos: SeekFrom) -> Result<u64, Errno> {
        let len = self.with_data(|d| d.len() as u64)?;
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => len.checked_add_signed(d),
        };
        self.pos = new.ok_or(Errno::INVAL)?;
        Ok(self.pos)
    }

    fn stat(&self) -> Result<Filestat, Errno> {
        Ok(self.node.stat())
    }

    fn set_len(&mut self, len: u64) -> Result<(), Errno> {
        if len > MAX_VIRTUAL_FILE {
            return Err(Errno::FBIG);
        }
        self.with_data(|d| d.resize(len as usize, 0))
    }

    fn set_times(&mut self, atim: TimeSet, mtim: TimeSet) -> Result<(), Errno> {
        self.node.set_times(atim, mtim);
        Ok(())
    }

    fn sync(&mut self, _data_only: bool) -> Result<(), Errno> {
        Ok(())
    }
}
