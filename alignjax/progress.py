"""Progress for people: a bar on a terminal, plain lines in a log file or a pipe.

``wants_bar(stream)`` is the one place that decides, for ``alignjax attack`` (``CascadeProgress``) and
``alignjax sweep`` (``alignjax.sweep.progress.Progress``). A tqdm bar redraws one line with carriage
returns: a terminal shows it moving, while a file or a pipe (``2> log``, nohup, a batch scheduler) keeps
one ``0%|`` fragment per attack and nothing after it. Off a terminal, ``ProgressLines`` writes whole
lines instead: one when an attack starts, one when it ends, and at most one every ``interval`` seconds
in between, each with points done / total, robust accuracy so far, elapsed time and ETA::

    apgd-ce: start | 0/397 points | robust so far 97.73% | elapsed 0:00 | ETA --
    apgd-ce | 250/397 points | robust so far 60.20% | elapsed 0:31 | ETA 0:18
    apgd-ce: done | 397/397 points | robust so far 41.06% | elapsed 0:47 | ETA 0:00

The interval is ``PROGRESS_INTERVAL_SECONDS`` unless the environment variable named by
``INTERVAL_VARIABLE`` gives another number of seconds (0: a line after every batch).
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, TextIO

from alignjax.errors import InputError

__all__ = ["INTERVAL_VARIABLE", "PROGRESS_INTERVAL_SECONDS", "CascadeProgress", "ProgressLines",
           "format_duration", "progress_interval", "progress_line", "wants_bar"]

PROGRESS_INTERVAL_SECONDS = 30.0
INTERVAL_VARIABLE = "ALIGNJAX_PROGRESS_INTERVAL"


def progress_interval() -> float:
    """Seconds between periodic progress lines: ``$ALIGNJAX_PROGRESS_INTERVAL``, else 30."""
    text = os.environ.get(INTERVAL_VARIABLE, "").strip()
    if not text:
        return PROGRESS_INTERVAL_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds >= 0:
        raise InputError(f"{INTERVAL_VARIABLE}={text!r}: give the seconds between progress lines "
                         "(a number >= 0)")
    return seconds


def wants_bar(stream: Any) -> bool:
    """True when ``stream`` is a terminal; False for a file, a pipe, or anything without ``isatty``."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def format_duration(seconds: float) -> str:
    """'0:07', '12:34', '1:02:03' (tqdm's style)."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(head: str, done: float, total: int, robust_accuracy: float | None, elapsed: float,
                  eta: float | None) -> str:
    """``head | done/total points | robust so far x% | elapsed m:ss | ETA m:ss`` (ETA ``--``: unknown)."""
    parts = [head, f"{done:.0f}/{total} points"]
    if robust_accuracy is not None:
        parts.append(f"robust so far {robust_accuracy:.2f}%")
    parts += [f"elapsed {format_duration(elapsed)}", f"ETA {'--' if eta is None else format_duration(eta)}"]
    return " | ".join(parts)


class ProgressLines:
    """Whole lines for a file or a pipe: a forced line (an attack's start or end) is always written,
    others at most once every ``interval`` seconds since the last line.

    Args:
      stream: where the lines go.
      interval: seconds between unforced lines; None: ``progress_interval()``.
    """

    def __init__(self, stream: TextIO, *, interval: float | None = None):
        self.stream = stream
        self.interval = progress_interval() if interval is None else interval
        self.last = -math.inf

    def write(self, line: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        print(line, file=self.stream, flush=True)


class CascadeProgress:
    """``run_autoattack``'s ``progress`` callback for ``alignjax attack``: a tqdm bar per attack on a
    terminal, ``ProgressLines`` otherwise.

    Called as ``progress(attack, points_done, points_total, robust_accuracy)`` once when an attack starts
    and after each of its batches; elapsed time and ETA are the attack's (a resumed attack's ETA counts
    only the points done since this process started it).

    Args:
      stream: where progress goes (default: ``sys.stderr`` at construction).
      interval: seconds between periodic lines off a terminal; None: ``progress_interval()``.
    """

    def __init__(self, stream: TextIO | None = None, *, interval: float | None = None):
        self.stream = sys.stderr if stream is None else stream
        self.lines = None if wants_bar(self.stream) else ProgressLines(self.stream, interval=interval)
        self.bar: Any = None
        self.attack: str | None = None
        self.started, self.done_at_start = 0.0, 0

    def __call__(self, attack: str, done: int, total: int, robust_accuracy: float | None = None) -> None:
        now = time.monotonic()
        is_new = attack != self.attack
        if is_new:
            self.close()
            self.attack, self.started, self.done_at_start = attack, now, done
        finished = done >= total
        if self.lines is None:
            self._update_bar(is_new, done, total, robust_accuracy)
        else:
            elapsed = now - self.started
            if finished:
                eta: float | None = 0.0
            elif done > self.done_at_start:
                eta = (total - done) * elapsed / (done - self.done_at_start)
            else:
                eta = None
            counts = (done, total, robust_accuracy, elapsed, eta)
            if is_new:
                self.lines.write(progress_line(f"{attack}: start", *counts), force=True)
            if finished:
                self.lines.write(progress_line(f"{attack}: done", *counts), force=True)
            elif not is_new:
                self.lines.write(progress_line(attack, *counts))
        if finished:
            self.close()

    def _update_bar(self, is_new: bool, done: int, total: int, robust_accuracy: float | None) -> None:
        if is_new:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.attack, unit="pt", leave=False, file=self.stream)
        if self.bar is None:  # a call after the attack's end
            return
        if robust_accuracy is not None:
            self.bar.set_postfix_str(f"robust {robust_accuracy:.2f}%", refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        """Closes the bar of the attack in progress, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
