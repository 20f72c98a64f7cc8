//! The only `unsafe` code of the transport: thin wrappers over
//! `setsockopt`, `recvmsg`, `sendmsg` and tokio's `AsyncFd::register`.
//!
//! Each wrapper takes a borrowed fd and Rust slices, builds the C structure
//! on the stack, makes one syscall and turns `-1` into `io::Error`. All byte
//! layout knowledge of ancillary data and notifications lives in the safe,
//! unit-tested [`super::wire`] module; the structs below are only the
//! option arguments, `#[repr(C)]` copies of `include/uapi/linux/sctp.h`
//! (stable kernel ABI; defined here rather than taken from `libc`, whose
//! SCTP definitions only appeared in recent releases).
#![allow(unsafe_code)]

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};

use bytes::BytesMut;

use super::wire::{CmsgBuf, RECV_CONTROL_SPACE, SOL_SCTP};

pub(crate) const SCTP_INITMSG: i32 = 2;
pub(crate) const SCTP_NODELAY: i32 = 3;
pub(crate) const SCTP_RECVRCVINFO: i32 = 32;
pub(crate) const SCTP_EVENT: i32 = 127;

/// `struct sctp_initmsg`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct SctpInitMsg {
    pub(crate) num_ostreams: u16,
    pub(crate) max_instreams: u16,
    pub(crate) max_attempts: u16,
    pub(crate) max_init_timeo: u16,
}

/// `struct sctp_event` (Linux >= 5.0): 8 bytes, the last one padding.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct SctpEvent {
    assoc_id: i32,
    kind: u16,
    on: u8,
    pad: u8,
}

/// Option values this module may pass to `setsockopt`: plain `#[repr(C)]`
/// data without padding bytes, so handing the kernel a pointer to them and
/// their size is sound.
trait OptVal: Copy {}
impl OptVal for i32 {}
impl OptVal for SctpInitMsg {}
impl OptVal for SctpEvent {}

fn setsockopt<T: OptVal>(fd: BorrowedFd<'_>, level: i32, name: i32, val: &T) -> io::Result<()> {
    // SAFETY: `fd` is a live descriptor for the duration of the call (it is
    // borrowed); `val` points to an initialised `T` of exactly
    // `size_of::<T>()` bytes that outlives the call; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (val as *const T).cast::<libc::c_void>(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// `setsockopt(level, name, &int)`.
pub(crate) fn set_int(fd: BorrowedFd<'_>, level: i32, name: i32, v: i32) -> io::Result<()> {
    setsockopt(fd, level, name, &v)
}

/// `SCTP_INITMSG`.
pub(crate) fn set_initmsg(fd: BorrowedFd<'_>, m: SctpInitMsg) -> io::Result<()> {
    setsockopt(fd, SOL_SCTP, SCTP_INITMSG, &m)
}

/// `SCTP_EVENT`: subscribe to one notification type for all (future)
/// associations of the socket.
pub(crate) fn subscribe(fd: BorrowedFd<'_>, kind: u16) -> io::Result<()> {
    // assoc_id 0 = SCTP_FUTURE_ASSOC; on one-to-one sockets it is ignored.
    setsockopt(fd, SOL_SCTP, SCTP_EVENT, &SctpEvent { assoc_id: 0, kind, on: 1, pad: 0 })
}

/// What one `recvmsg` call returned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    /// Bytes appended to the buffer (0 with no flags = end of file).
    pub(crate) n: usize,
    /// `msg_flags` (MSG_EOR, MSG_NOTIFICATION, MSG_CTRUNC, ...).
    pub(crate) flags: i32,
    /// Bytes of `control` filled with ancillary data.
    pub(crate) control_len: usize,
}

/// One non-blocking `recvmsg` appending at most `max` bytes to `buf` (its
/// spare capacity must hold them: the caller reserves first) and filling
/// `control` with ancillary data.
pub(crate) fn recvmsg_append(
    fd: BorrowedFd<'_>,
    buf: &mut BytesMut,
    max: usize,
    control: &mut CmsgBuf<RECV_CONTROL_SPACE>,
) -> io::Result<Received> {
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(max);
    let mut iov = libc::iovec { iov_base: spare.as_mut_ptr().cast::<libc::c_void>(), iov_len: want };
    // SAFETY: an all-zero msghdr is a valid value (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast::<libc::c_void>();
    msg.msg_controllen = RECV_CONTROL_SPACE as _;
    // SAFETY: `fd` is live; `iov` points into `buf`'s spare capacity, `want`
    // bytes of which are allocated and exclusively ours (we hold `&mut buf`);
    // `control` is a writable buffer aligned like cmsghdr, of the advertised
    // size; `msg`, `iov` and both buffers outlive the call.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // The kernel never reports more than it was given room for; be defensive.
    let n = n.min(want);
    // SAFETY: the kernel initialised the first `n <= want <= spare` bytes of
    // the spare capacity; the new length stays within the allocation.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(Received { n, flags: msg.msg_flags, control_len: (msg.msg_controllen as usize).min(RECV_CONTROL_SPACE) })
}

/// Register a socket with the tokio reactor (`AsyncFd::register`, which
/// tokio ≥ 1.54 marks unsafe because the fd must stay the same open file
/// for the `AsyncFd`'s lifetime). Must be called inside a tokio runtime.
pub(crate) fn register(sock: socket2::Socket) -> io::Result<tokio::io::unix::AsyncFd<socket2::Socket>> {
    // SAFETY: a `socket2::Socket` owns its descriptor: it is open from
    // creation until the `Socket` is dropped (which happens only when the
    // `AsyncFd` is dropped), and `as_raw_fd()` always returns that same fd.
    // Nothing in this crate replaces the socket behind `AsyncFd::get_mut`.
    unsafe { tokio::io::unix::AsyncFd::register(sock) }.map_err(|e| e.into())
}

/// One non-blocking `sendmsg` of a whole message with ancillary data.
/// MSG_NOSIGNAL: a dead association must give EPIPE, not kill the process.
pub(crate) fn sendmsg(fd: BorrowedFd<'_>, data: &[u8], control: &[u8]) -> io::Result<usize> {
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    // SAFETY: an all-zero msghdr is a valid value (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_ptr() as *mut libc::c_void;
    msg.msg_controllen = control.len() as _;
    // SAFETY: `fd` is live; `iov` and `msg_control` point to `data` and
    // `control`, valid for their lengths and alive for the call; sendmsg only
    // reads them despite the `*mut` in the C signature.
    let n = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

#[cfg(test)]
mod tests {
    use super::super::wire;

    #[test]
    fn our_cmsg_arithmetic_matches_libc() {
        for n in [0usize, 1, 4, 16, 28, 31, 32] {
            // SAFETY: CMSG_LEN/CMSG_SPACE are pure arithmetic.
            let (len, space) = unsafe { (libc::CMSG_LEN(n as u32) as usize, libc::CMSG_SPACE(n as u32) as usize) };
            assert_eq!(wire::cmsg_len(n), len, "CMSG_LEN({n})");
            assert_eq!(wire::cmsg_space(n), space, "CMSG_SPACE({n})");
        }
    }

    #[test]
    fn option_structs_have_the_kernel_sizes() {
        assert_eq!(std::mem::size_of::<super::SctpInitMsg>(), 8);
        assert_eq!(std::mem::size_of::<super::SctpEvent>(), 8);
    }
}
