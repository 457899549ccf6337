"""Run a parser on untrusted bytes in a child process, with a memory cap and a time limit.

The parsers of uploaded files are native code reading bytes an attacker chose. A file of a few kilobytes
can ask them for gigabytes — a Flate or LZW bomb in a PDF, a workbook cell at XFD1048576, a shared-string
table declaring four billion entries (calamine then aborts the whole process when the allocation fails)
— or keep them busy for minutes. Run inside a web worker, one such upload takes the worker down or ties
it up. Here the parser runs in a forked child instead:

- its address space is capped (``RLIMIT_AS``: its size at the fork plus ``memory``) and its CPU time
  too, so a bomb fails inside the child and an orphaned child cannot spin;
- the parent waits at most ``timeout`` seconds for the answer, then kills the child;
- the child inherits the modules already imported (no start-up cost: a fork takes a few milliseconds),
  talks to the parent only through a pipe, and leaves with ``os._exit``.

A child blocked forever (a lock another thread of the parent held at the fork) is killed by the same
timeout: the worst outcome is a refused upload, never a stuck worker.
"""

import faulthandler
import multiprocessing
import os
import resource
import signal


class SandboxError(Exception):
    """The child gave no answer."""


class Timeout(SandboxError):
    """The child was still working after the time limit and was killed."""


class Crashed(SandboxError):
    """The child died (a signal, an abort in native code) or ran out of its memory."""


def _limit(memory, timeout):
    # a crash in native code is the parent's to report (Crashed); the inherited traceback dump is noise
    faulthandler.disable()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)  # the parent's handlers (gunicorn's, huey's) are not ours
    with open("/proc/self/statm") as fh:
        size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (size + memory, size + memory))
    seconds = int(timeout) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))


def _child(conn, func, args, memory, timeout):
    try:
        _limit(memory, timeout)
        answer = ("ok", func(*args))
    except MemoryError:
        answer = ("memory", None)
    except Exception as exc:  # handed to the parent, which raises it there
        answer = ("raised", exc)
    try:
        conn.send(answer)
    except Exception as exc:  # an unpicklable result or exception
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    conn.close()


def run(func, *args, timeout, memory):
    """``func(*args)`` in a child process; its return value, or the exception it raised, re-raised here.

    ``func`` must be a module-level function; ``timeout`` is in seconds, ``memory`` in bytes beyond what
    the parent process already uses. Raises ``Timeout`` or ``Crashed`` when the child gives no answer.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, func, args, memory, timeout), daemon=False)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise Timeout(f"no answer after {timeout} s")
        try:
            status, value = receiver.recv()
        except (EOFError, OSError) as exc:
            process.join(5)
            raise Crashed(f"the parser's process ended with {process.exitcode}") from exc
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join()
    if status == "ok":
        return value
    if status == "raised":
        raise value
    raise Crashed("out of memory" if status == "memory" else value)
