//! WASI errno values and the one place host I/O errors become errnos.

use std::io;

/// A WASI preview1 `errno`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub u16);

macro_rules! errnos {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        impl Errno {
            $(pub const $name: Errno = Errno($value);)*

            /// The errno's name as the WASI spec spells it (`"badf"`, `"notcapable"`, ...).
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($value => $text,)*
                    _ => "unknown",
                }
            }
        }
    };
}

errnos! {
    SUCCESS = 0, "success"; TOOBIG = 1, "2big"; ACCES = 2, "acces"; ADDRINUSE = 3, "addrinuse";
    ADDRNOTAVAIL = 4, "addrnotavail"; AFNOSUPPORT = 5, "afnosupport"; AGAIN = 6, "again";
    ALREADY = 7, "already"; BADF = 8, "badf"; BADMSG = 9, "badmsg"; BUSY = 10, "busy";
    CANCELED = 11, "canceled"; CHILD = 12, "child"; CONNABORTED = 13, "connaborted";
    CONNREFUSED = 14, "connrefused"; CONNRESET = 15, "connreset"; DEADLK = 16, "deadlk";
    DESTADDRREQ = 17, "destaddrreq"; DOM = 18, "dom"; DQUOT = 19, "dquot"; EXIST = 20, "exist";
    FAULT = 21, "fault"; FBIG = 22, "fbig"; HOSTUNREACH = 23, "hostunreach"; IDRM = 24, "idrm";
    ILSEQ = 25, "ilseq"; INPROGRESS = 26, "inprogress"; INTR = 27, "intr"; INVAL = 28, "inval";
    IO = 29, "io"; ISCONN = 30, "isconn"; ISDIR = 31, "isdir"; LOOP = 32, "loop";
    MFILE = 33, "mfile"; MLINK = 34, "mlink"; MSGSIZE = 35, "msgsize"; MULTIHOP = 36, "multihop";
    NAMETOOLONG = 37, "nametoolong"; NETDOWN = 38, "netdown"; NETRESET = 39, "netreset";
    NETUNREACH = 40, "netunreach"; NFILE = 41, "nfile"; NOBUFS = 42, "nobufs"; NODEV = 43, "nodev";
    NOENT = 44, "noent"; NOEXEC = 45, "noexec"; NOLCK = 46, "nolck"; NOLINK = 47, "nolink";
    NOMEM = 48, "nomem"; NOMSG = 49, "nomsg"; NOPROTOOPT = 50, "noprotoopt"; NOSPC = 51, "nospc";
    NOSYS = 52, "nosys"; NOTCONN = 53, "notconn"; NOTDIR = 54, "notdir"; NOTEMPTY = 55, "notempty";
    NOTRECOVERABLE = 56, "notrecoverable"; NOTSOCK = 57, "notsock"; NOTSUP = 58, "notsup";
    NOTTY = 59, "notty"; NXIO = 60, "nxio"; OVERFLOW = 61, "overflow"; OWNERDEAD = 62, "ownerdead";
    PERM = 63, "perm"; PIPE = 64, "pipe"; PROTO = 65, "proto"; PROTONOSUPPORT = 66, "protonosupport";
    PROTOTYPE = 67, "prototype"; RANGE = 68, "range"; ROFS = 69, "rofs"; SPIPE = 70, "spipe";
    SRCH = 71, "srch"; STALE = 72, "stale"; TIMEDOUT = 73, "timedout"; TXTBSY = 74, "txtbsy";
    XDEV = 75, "xdev"; NOTCAPABLE = 76, "notcapable";
}

impl Errno {
    /// Whether this errno means the guest was refused something it has no capability for
    /// (what the audit log calls a denial).
    pub fn is_denial(self) -> bool {
        matches!(
            self,
            Errno::PERM | Errno::ACCES | Errno::NOTCAPABLE | Errno::ROFS | Errno::BADF
        )
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// Every host I/O error becomes a WASI errno here and nowhere else.
///
/// Linux errno values are translated one to one; errors without an OS code (cap-std's
/// refusals of paths that would leave a preopen, std's invalid-input checks) by kind.
pub fn from_io(e: &io::Error) -> Errno {
    if let Some(code) = e.raw_os_error() {
        return match code {
            1 => Errno::PERM,
            2 => Errno::NOENT,
            3 => Errno::SRCH,
            4 => Errno::INTR,
            5 => Errno::IO,
            6 => Errno::NXIO,
            7 => Errno::TOOBIG,
            8 => Errno::NOEXEC,
            9 => Errno::BADF,
            10 => Errno::CHILD,
            11 => Errno::AGAIN,
            12 => Errno::NOMEM,
            13 => Errno::ACCES,
            14 => Errno::FAULT,
            16 => Errno::BUSY,
            17 => Errno::EXIST,
            18 => Errno::XDEV,
            19 => Errno::NODEV,
            20 => Errno::NOTDIR,
            21 => Errno::ISDIR,
            22 => Errno::INVAL,
            23 => Errno::NFILE,
            24 => Errno::MFILE,
            25 => Errno::NOTTY,
            26 => Errno::TXTBSY,
            27 => Errno::FBIG,
            28 => Errno::NOSPC,
            29 => Errno::SPIPE,
            30 => Errno::ROFS,
            31 => Errno::MLINK,
            32 => Errno::PIPE,
            33 => Errno::DOM,
            34 => Errno::RANGE,
            35 => Errno::DEADLK,
            36 => Errno::NAMETOOLONG,
            37 => Errno::NOLCK,
            38 => Errno::NOSYS,
            39 => Errno::NOTEMPTY,
            40 => Errno::LOOP,
            42 => Errno::NOMSG,
            43 => Errno::IDRM,
            67 => Errno::NOLINK,
            71 => Errno::PROTO,
            72 => Errno::MULTIHOP,
            74 => Errno::BADMSG,
            75 => Errno::OVERFLOW,
            84 => Errno::ILSEQ,
            88 => Errno::NOTSOCK,
            89 => Errno::DESTADDRREQ,
            90 => Errno::MSGSIZE,
            91 => Errno::PROTOTYPE,
            92 => Errno::NOPROTOOPT,
            93 => Errno::PROTONOSUPPORT,
            95 => Errno::NOTSUP,
            97 => Errno::AFNOSUPPORT,
            98 => Errno::ADDRINUSE,
            99 => Errno::ADDRNOTAVAIL,
            100 => Errno::NETDOWN,
            101 => Errno::NETUNREACH,
            102 => Errno::NETRESET,
            103 => Errno::CONNABORTED,
            104 => Errno::CONNRESET,
            105 => Errno::NOBUFS,
            106 => Errno::ISCONN,
            107 => Errno::NOTCONN,
            110 => Errno::TIMEDOUT,
            111 => Errno::CONNREFUSED,
            113 => Errno::HOSTUNREACH,
            114 => Errno::ALREADY,
            115 => Errno::INPROGRESS,
            116 => Errno::STALE,
            122 => Errno::DQUOT,
            125 => Errno::CANCELED,
            130 => Errno::OWNERDEAD,
            131 => Errno::NOTRECOVERABLE,
            _ => Errno::IO,
        };
    }
    use io::ErrorKind as K;
    match e.kind() {
        K::NotFound => Errno::NOENT,
        // cap-std reports a path that would leave its `Dir` (`..`, absolute paths,
        // symlinks pointing outside) as PermissionDenied without an OS code.
        K::PermissionDenied => Errno::NOTCAPABLE,
        K::AlreadyExists => Errno::EXIST,
        K::InvalidInput => Errno::INVAL,
        K::InvalidData => Errno::ILSEQ,
        K::Unsupported => Errno::NOTSUP,
        K::WouldBlock => Errno::AGAIN,
        K::Interrupted => Errno::INTR,
        K::OutOfMemory => Errno::NOMEM,
        K::UnexpectedEof => Errno::IO,
        K::WriteZero => Errno::IO,
        K::TimedOut => Errno::TIMEDOUT,
        K::BrokenPipe => Errno::PIPE,
        K::NotADirectory => Errno::NOTDIR,
        K::IsADirectory => Errno::ISDIR,
        K::DirectoryNotEmpty => Errno::NOTEMPTY,
        K::ReadOnlyFilesystem => Errno::ROFS,
        K::InvalidFilename => Errno::INVAL,
        K::CrossesDevices => Errno::XDEV,
        K::FileTooLarge => Errno::FBIG,
        K::NotSeekable => Errno::SPIPE,
        K::StorageFull => Errno::NOSPC,
        _ => Errno::IO,
    }
}

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Errno {
        from_io(&e)
    }
}
