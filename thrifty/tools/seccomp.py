"""A seccomp filter for the python sandbox: no new processes, no sockets, no kernel attack surface.

Why a filter on top of bubblewrap's namespaces: an rlimit on processes (``RLIMIT_NPROC``) is not
enforced for a sandbox whose user maps to root outside (thrifty often runs as root in containers and
CI), so the only process limit that holds everywhere is none at all: ``fork``/``vfork`` and ``clone``
without ``CLONE_THREAD`` fail with EPERM (threads stay allowed and are bounded by the address-space
limit). ``clone3`` answers ENOSYS so glibc falls back to ``clone``, whose flags a filter can read.
``socket`` fails too (the empty network namespace is the first wall; io_uring, which could open
sockets behind the filter's back, is refused), as do namespaces, mounts, tracing, other processes'
memory, keyrings, BPF and perf. The program is classic BPF as the kernel reads it (``struct
sock_filter``), built here because it is seventy instructions and no library for it is installed
everywhere bubblewrap is; bubblewrap loads it with ``--seccomp FD`` just before it starts Python.
"""

from __future__ import annotations

import errno
import platform
import struct

_LD_W_ABS = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06
_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
_CLONE_THREAD = 0x00010000
_X32_SYSCALL_BIT = 0x40000000
_OFFSET_NR, _OFFSET_ARCH, _OFFSET_ARG0 = 0, 4, 16

# Numbers per architecture; the generic ones (424 and up) are the same on both.
_GENERIC = "io_uring_setup=425 io_uring_enter=426 io_uring_register=427 open_tree=428 move_mount=429 fsopen=430 \
fsconfig=431 fsmount=432 fspick=433 mount_setattr=442"
_X86_64 = "clone=56 fork=57 vfork=58 socket=41 ptrace=101 process_vm_readv=310 process_vm_writev=311 unshare=272 \
setns=308 mount=165 umount2=166 pivot_root=155 chroot=161 keyctl=250 add_key=248 request_key=249 bpf=321 \
userfaultfd=323 perf_event_open=298"
_AARCH64 = "clone=220 socket=198 ptrace=117 process_vm_readv=270 process_vm_writev=271 unshare=97 setns=268 \
mount=40 umount2=39 pivot_root=41 chroot=51 keyctl=219 add_key=217 request_key=218 bpf=280 userfaultfd=282 \
perf_event_open=241"


def _table(spec: str) -> dict[str, int]:
    return {name: int(number) for name, number in (item.split("=") for item in f"{spec} {_GENERIC}".split())}


_ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, _table(_X86_64)),
    "aarch64": (0xC00000B7, _table(_AARCH64)),
}

CLONE3 = 435
"""``clone3`` has the same number on every architecture."""


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def supported() -> bool:
    return platform.machine() in _ARCHES


def denied_syscalls(machine: str | None = None) -> dict[str, int]:
    """Name → number of every syscall the filter refuses (``clone`` only without ``CLONE_THREAD``)."""
    return {**_ARCHES[machine or platform.machine()][1], "clone3": CLONE3}


def deny_filter(machine: str | None = None) -> bytes:
    """The BPF program for this machine (``KeyError`` on an architecture without a syscall table here)."""
    arch, numbers = _ARCHES[machine or platform.machine()]
    prog = [_op(_LD_W_ABS, _OFFSET_ARCH), _op(_JEQ, arch, jt=1), _op(_RET, _KILL_PROCESS), _op(_LD_W_ABS, _OFFSET_NR)]
    if arch == _ARCHES["x86_64"][0]:  # x32 calls reach the same entry points under other numbers
        prog += [_op(_JGE, _X32_SYSCALL_BIT, jf=1), _op(_RET, _ERRNO | errno.ENOSYS)]
    prog += [_op(_JEQ, CLONE3, jf=1), _op(_RET, _ERRNO | errno.ENOSYS)]
    prog += [
        _op(_JEQ, numbers["clone"], jf=4),
        _op(_LD_W_ABS, _OFFSET_ARG0),  # the low half of the flags (little-endian on both arches)
        _op(_JSET, _CLONE_THREAD, jf=1),
        _op(_RET, _ALLOW),
        _op(_RET, _ERRNO | errno.EPERM),
    ]
    for name, number in numbers.items():
        if name != "clone":
            prog += [_op(_JEQ, number, jf=1), _op(_RET, _ERRNO | errno.EPERM)]
    prog.append(_op(_RET, _ALLOW))
    return b"".join(prog)
