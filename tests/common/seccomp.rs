//! A seccomp filter that makes `io_uring_setup` fail, as a container runtime's default profile
//! or an old kernel does: the way the tests reach the io_uring event loop's refusal and its
//! fallback to epoll on a machine where io_uring works.
//!
//! The filter is a classic BPF program (`seccomp(2)`, `SECCOMP_SET_MODE_FILTER`) of six
//! instructions: on this architecture, `io_uring_setup` returns `-errno`; every other call
//! is allowed. It binds the calling thread and what it starts (threads, processes), so a
//! test applies it on a thread of its own, or in a child between `fork` and `exec`.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// `AUDIT_ARCH_*` of this build (linux/audit.h): a filter checks it before the call number,
/// which means something else on another architecture.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// The call number of `io_uring_setup` (425 on both architectures).
const IO_URING_SETUP: u32 = libc::SYS_io_uring_setup as u32;

/// BPF_LD | BPF_W | BPF_ABS (linux/filter.h: 0x00 | 0x00 | 0x20): load the 32-bit word at an
/// offset of `seccomp_data`.
const LD_W_ABS: u16 = 0x20;
/// BPF_JMP | BPF_JEQ | BPF_K (0x05 | 0x10 | 0x00): jump if it equals a constant.
const JMP_JEQ_K: u16 = 0x15;
/// BPF_RET | BPF_K (0x06 | 0x00): return a constant.
const RET_K: u16 = 0x06;

/// Offsets in `struct seccomp_data`: the call number, then the architecture.
const NR: u32 = 0;
const ARCH: u32 = 4;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The program: `io_uring_setup` on this architecture fails with `errno`, all else runs.
fn program(errno: i32) -> [libc::sock_filter; 6] {
    [
        op(LD_W_ABS, 0, 0, ARCH),
        op(JMP_JEQ_K, 0, 2, AUDIT_ARCH),
        op(LD_W_ABS, 0, 0, NR),
        op(JMP_JEQ_K, 1, 0, IO_URING_SETUP),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | errno as u32),
    ]
}

/// Installs `program` on the calling thread. Only async-signal-safe calls (two system
/// calls), so that it may run between `fork` and `exec`.
fn install(program: &[libc::sock_filter; 6]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with integer arguments; no memory is passed.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fprog` points at `program`, which outlives the call; the kernel copies it.
    let set = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    };
    match set {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// From now on, on this thread and the threads it starts, `io_uring_setup` fails with `errno`.
pub fn forbid_io_uring_here(errno: i32) -> io::Result<()> {
    install(&program(errno))
}

/// Makes `io_uring_setup` fail with `errno` in the process `command` starts.
pub fn forbid_io_uring_in(command: &mut Command, errno: i32) -> &mut Command {
    let program = program(errno);
    // SAFETY: the closure makes two system calls on data it owns: async-signal-safe.
    unsafe { command.pre_exec(move || install(&program)) }
}

/// Calls `io_uring_setup` for a ring of one entry: the error number it failed with, or `None`
/// when it made a ring (closed at once). What a test checks its filter by.
pub fn io_uring_setup_error() -> Option<i32> {
    // struct io_uring_params is 120 bytes, all zero for a plain ring.
    let mut params = [0u8; 120];
    // SAFETY: the kernel writes at most the 120 bytes of `params`, which outlives the call.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) };
    if fd < 0 {
        return io::Error::last_os_error().raw_os_error();
    }
    // SAFETY: `fd` is the ring's descriptor, which nothing else holds.
    unsafe { libc::close(fd as i32) };
    None
}
