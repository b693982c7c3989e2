"""Ctrl-C for the `kerazoo` commands: one interrupt stops a command for good.

A KeyboardInterrupt raised inside a garbage collection's callbacks (JAX's `_xla_gc_callback`, which
Keras imports) is printed and dropped by Python, and the work went on. `until_interrupted` raises it
again every 2 s after the first SIGINT, never inside a collection, until the work has stopped. The
`kerazoo` command (`kerazoo.cli.main`) and `python -m kerazoo.tuning` run every command through it,
then print `kerazoo COMMAND: interrupted.` with what the command's `interrupted` argparse default (a
function of the parsed arguments) says the interruption left, and exit with `INTERRUPTED_EXIT`.

Imports nothing but the standard library: every command line imports it at start-up.
"""
from __future__ import annotations

import gc
import os
import signal
import threading
from typing import Callable, TypeVar

__all__ = ["until_interrupted", "INTERRUPTED_EXIT"]

INTERRUPTED_EXIT = 130  # a command's exit code after Ctrl-C (128 + SIGINT, as shells report it)
REPEAT_SECONDS = 2.0    # after the first SIGINT, raised again this often until the work has stopped

T = TypeVar("T")


def until_interrupted(run: Callable[[], T]) -> T:
    """`run()`, stopped for good by one Ctrl-C: after the first SIGINT, KeyboardInterrupt is raised again every
    2 s, never inside a garbage collection (where it would be printed and dropped), until `run` has stopped.

    Off the main thread, with SIGINT ignored or handled by the caller's own handler (a nested call included),
    this is just `run()`.

    Example:
      >>> try:
      ...     until_interrupted(lambda: model.fit(ds, epochs=100))
      ... except KeyboardInterrupt:
      ...     print("interrupted")
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:  # ignored, or the caller's own
        return run()
    stopped, repeater = threading.Event(), []

    def again():
        while not stopped.wait(REPEAT_SECONDS):
            os.kill(os.getpid(), signal.SIGINT)

    def interrupted(signum, frame):
        if stopped.is_set():  # the repeater's last one, sent as `run` stopped: the interrupt is being handled
            return
        if not repeater:
            repeater.append(threading.Thread(target=again, name="kerazoo-ctrl-c", daemon=True))
            repeater[0].start()
        if not collecting:  # else the repeater raises it again in 2 s, outside the collection
            raise KeyboardInterrupt

    collecting = []  # inside a garbage collection: an exception raised in its callbacks is printed and dropped

    def started(phase, info):
        if phase == "start":
            collecting.append(True)

    def ended(phase, info):
        if phase == "stop" and collecting:
            collecting.pop()

    gc.callbacks.insert(0, started)
    gc.callbacks.append(ended)
    signal.signal(signal.SIGINT, interrupted)
    try:
        return run()
    finally:
        while True:  # a repeated interrupt may land here before `stopped` is set: then set it again
            try:
                stopped.set()
                for thread in repeater:
                    thread.join()
                break
            except KeyboardInterrupt:
                continue
        signal.signal(signal.SIGINT, signal.default_int_handler)
        gc.callbacks.remove(started)
        gc.callbacks.remove(ended)
