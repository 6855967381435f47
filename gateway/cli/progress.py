"""A rich progress bar for long index runs (reindex from block 0, catching up after downtime)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

from gateway.indexer.follower import Progress, ProgressCallback

__all__ = ["rich_progress"]


@contextmanager
def rich_progress(console: Console | None = None) -> Iterator[ProgressCallback]:
    """A callback for ``Indexer.sync_once``/``reindex`` that draws blocks done and events/s."""
    columns = (
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks · {task.fields[events]:,} events · {task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with RichProgress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("indexing", total=None, events=0, rate=0.0)

        def show(progress: Progress) -> None:
            bar.update(
                task,
                total=progress.target - progress.start_block + 1,
                completed=progress.block - progress.start_block + 1,
                events=progress.events,
                rate=progress.events_per_s,
            )

        yield show
