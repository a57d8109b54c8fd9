"""Progress of a sweep: a bar (units, points per second, ETA) for people, JSON lines for machines.

The bar is drawn only on a terminal; to a file or a pipe the same progress goes as plain lines
(``alignjax.progress``: one when an attack of a unit starts, one when it ends, at most one every
``$ALIGNJAX_PROGRESS_INTERVAL`` seconds, default 30, in between), each with the sweep's points done /
total, the unit's robust accuracy so far (mean over a stack's checkpoints), elapsed time and ETA.

Points are the unit of work: a unit of n points counts n when it ends, and inside a unit the cascade's
progress counts as ``n * (attacks finished + fraction of the current attack) / attacks``. Points per
second are measured over this process's work since it started; the ETA is the remaining points at
that rate. JSON events (one object per line): ``start``, ``unit_start``, ``progress`` (at most once per
``interval`` seconds), ``unit_done``, ``unit_invalid`` (a damaged result about to be recomputed), ``done``
(``start`` says how many of this process's units were already finished); each carries
``time`` (UTC ISO), ``process`` and the counters ``units_done``, ``units_total``, ``points_done``,
``points_total``, ``points_per_second`` and ``eta_seconds``.
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from alignjax import progress as display  # the bar-or-lines choice shared with `alignjax attack`
from alignjax.sweep.grid import Unit


class Progress:
    def __init__(self, *, units_total: int, points_total: int, process_index: int = 0, bar: bool = True,
                 json_log: TextIO | None = None, interval: float = 1.0, stream: TextIO | None = None,
                 line_interval: float | None = None):
        self.units_total, self.points_total = units_total, points_total
        self.units_done, self.points_finished = 0, 0
        self.current_points, self.current_fraction = 0, 0.0
        self.n_attacks, self.current_units = 1, []
        self.process_index = process_index
        self.json_log, self.interval = json_log, interval
        self.started = time.time()
        self.last_event = 0.0
        self.bar = None
        self.lines: display.ProgressLines | None = None  # off a terminal, instead of the bar
        self.unit_label, self.attack_key = "", None
        stream = sys.stderr if stream is None else stream
        if bar and points_total > 0 and display.wants_bar(stream):
            from tqdm import tqdm

            self.bar = tqdm(total=points_total, unit="pt", file=stream, dynamic_ncols=True,
                            desc=self._desc(), smoothing=0.1,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total} pt "
                                       "[{elapsed}<{remaining}, {rate_fmt}]{postfix}")
        elif bar and points_total > 0:
            self.lines = display.ProgressLines(stream, interval=line_interval)

    # -- counters ------------------------------------------------------------------------------

    @property
    def points_done(self) -> float:
        return self.points_finished + self.current_points * self.current_fraction

    def rate(self) -> float:
        elapsed = time.time() - self.started
        return self.points_done / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        rate = self.rate()
        return (self.points_total - self.points_done) / rate if rate > 0 else None

    def counters(self) -> dict[str, Any]:
        eta = self.eta()
        return {"units_done": self.units_done, "units_total": self.units_total,
                "points_done": round(self.points_done, 1), "points_total": self.points_total,
                "points_per_second": round(self.rate(), 3), "eta_seconds": None if eta is None else round(eta, 1)}

    def _desc(self) -> str:
        return f"units {self.units_done}/{self.units_total}"

    def _emit(self, event: str, **fields: Any) -> None:
        if self.json_log is None:
            return
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        record = {"time": now, "event": event, "process": self.process_index, **fields, **self.counters()}
        self.json_log.write(json.dumps(record, default=str) + "\n")
        self.json_log.flush()

    def _refresh(self) -> None:
        if self.bar is not None:
            self.bar.set_description_str(self._desc(), refresh=False)
            self.bar.update(self.points_done - self.bar.n)

    def wrap(self, log: Callable[[str], None]) -> Callable[[str], None]:
        """``log`` that lifts the bar out of the way while it writes (no line glued to the bar)."""
        if self.bar is None:
            return log

        def write(line: str) -> None:
            from tqdm import tqdm

            with tqdm.external_write_mode(file=self.bar.fp):
                log(line)

        return write

    # -- events --------------------------------------------------------------------------------

    def start(self, **fields: Any) -> None:
        self._emit("start", **fields)

    def unit_invalid(self, unit: Unit, reason: str) -> None:
        self._emit("unit_invalid", unit=unit.unit_id, reason=reason)

    def unit_start(self, units: Sequence[Unit], n_points: int) -> None:
        self.current_points, self.current_fraction = n_points * len(units), 0.0
        self.n_attacks = max(len(units[0].attacks), 1)
        self.current_units = [u.unit_id for u in units]
        self._emit("unit_start", units=self.current_units, model=units[0].model,
                   checkpoints=[u.checkpoint for u in units], dataset=units[0].dataset, norm=units[0].norm,
                   eps=units[0].eps, version=units[0].version, seed=units[0].seed, n=n_points)
        self.unit_label = f"{units[0].model} {units[0].norm} {units[0].eps:g} {units[0].version}"
        if self.bar is not None:
            self.bar.set_postfix_str(self.unit_label, refresh=False)

    def attack_progress(self, position: int, attack: str, done: int, total: int,
                        robust_accuracy: float | None = None) -> None:
        within = done / total if total else 1.0
        self.current_fraction = min((position + within) / self.n_attacks, 1.0)
        self._refresh()
        if self.lines is not None:
            self._write_lines(position, attack, done >= total, robust_accuracy)
        now = time.time()
        if now - self.last_event >= self.interval or done >= total:
            self.last_event = now
            self._emit("progress", units=self.current_units, attack=attack, attack_done=done, attack_total=total)

    def _write_lines(self, position: int, attack: str, finished: bool, robust_accuracy: float | None) -> None:
        """An attack's start and end lines, and the periodic lines in between (``ProgressLines``)."""
        assert self.lines is not None
        key = (tuple(self.current_units), position)
        is_new, self.attack_key = key != self.attack_key, key
        head = f"{self._desc()} | {self.unit_label} | {attack}"

        def line(event: str) -> str:
            return display.progress_line(f"{head}: {event}" if event else head, self.points_done,
                                         self.points_total, robust_accuracy, time.time() - self.started,
                                         self.eta())

        if is_new:
            self.lines.write(line("start"), force=True)
        if finished:
            self.lines.write(line("done"), force=True)
        elif not is_new:
            self.lines.write(line(""))

    def unit_done(self, units: Sequence[Unit], seconds: float, robust_accuracy: Sequence[float]) -> None:
        self.units_done += len(units)
        self.points_finished += self.current_points
        self.current_points, self.current_fraction = 0, 0.0
        self._refresh()
        self._emit("unit_done", units=[u.unit_id for u in units], seconds=round(seconds, 3),
                   robust_accuracy=list(robust_accuracy))

    def close(self, **fields: Any) -> None:
        if self.bar is not None:
            self.bar.close()
        self._emit("done", seconds=round(time.time() - self.started, 3), **fields)
