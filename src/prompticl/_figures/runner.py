"""Running a :class:`~prompticl._figures.params.RunPlan`: papermill executes each chapter into a
temporary folder beside ``--out``, which is moved into place only when every chapter succeeded.

Data safety: the move never replaces anything the run was not allowed to replace.  Without
``--force`` the temporary folder is renamed onto a folder this run has just created exclusively
(``mkdir`` fails if anything is there), so a folder that appeared during the run, by hand or from
another run, is refused at the moment of the move; with ``--force`` only the folder that existed
when the run started (same device and inode) is moved aside, and deleted once the new one is in
place.  SIGINT, SIGTERM and SIGHUP stop the workers and the kernels they started, remove the
temporary folder and the parent folders the run created, and end with :class:`Interrupted`
(:mod:`prompticl._figures.processes`).  The book's page "Reproducing and regenerating the figures"
documents the outputs.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from contextlib import contextmanager
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence


from .params import RunPlan
from .processes import run_owned_dirs, signals_interrupt, stop_processes, worker_init
from .registry import KERNEL_NAME, ChapterFailed, FigureError
from .export import FIGURE_FORMATS
from .._claims import FILE_VARIABLE, MODE_VARIABLE, MODES, read_claims
from .._safe_yaml import escape_control

__all__ = ["check_out_dir", "default_out_dir", "git_commit", "run_chapter", "run_plan"]



def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _identity(path: Path) -> "tuple[int, int] | None":
    """(device, inode) of the folder at ``path``, ``None`` if nothing is there."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _progress_engine():
    """A papermill engine that reports ``[chapter k/N] name: cell i/M`` as each code cell starts."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager

    class ProgressManager(NotebookExecutionManager):
        label: str = ""
        report: "Callable[[str], None] | None" = None

        def cell_start(self, cell, cell_index=None, **kwargs):
            super().cell_start(cell, cell_index, **kwargs)
            if self.report is None or cell.cell_type != "code" or cell_index is None:
                return
            code = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]
            self.report(f"{self.label}: cell {code.index(cell_index) + 1}/{len(code)}")

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=False, log_output=False,
                             autosave_cell_every=30, progress_label="", progress_report=None, **kwargs):
            nb_man = ProgressManager(nb, output_path=output_path, progress_bar=False, log_output=log_output,
                                     autosave_cell_every=autosave_cell_every)
            nb_man.label, nb_man.report = progress_label, progress_report
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

    return ProgressEngine


def _stderr_report(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _time_left_report(start: float, estimate: float) -> Callable[[str], None]:
    """Progress lines of a long chapter (run with --allow-long) with the estimated time left."""
    from .._limits import _duration

    def report(line: str) -> None:
        left = estimate - (time.perf_counter() - start)
        _stderr_report(f"{line} (about {_duration(left)} left)" if left > 0 else f"{line} (longer than estimated)")

    return report


def _failure_message(chapter: str, exc: BaseException, executed: "Path | None") -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        cell = f" at cell [{exc.exec_count}]"
        try:  # papermill inserts Markdown cells about the error, so locate the failed code cell
            nb = json.loads(executed.read_text(encoding="utf-8")) if executed else {"cells": []}
            code = [c for c in nb["cells"] if c["cell_type"] == "code"]
            failed = [
                i for i, c in enumerate(code, 1)
                if c.get("metadata", {}).get("papermill", {}).get("exception")
                or any(o.get("output_type") == "error" for o in c.get("outputs", []))
            ]
            if failed:
                cell = f" at cell {failed[0]}/{len(code)}"
        except (OSError, ValueError, KeyError):
            pass
        evalue = " ".join(str(exc.evalue).split())
        return f"chapter {chapter} failed{cell}: {exc.ename}: {evalue}"
    return f"chapter {chapter} failed: {type(exc).__name__}: {' '.join(str(exc).split())}"


def run_chapter(
    notebook: str,
    chapter: str,
    parameters: dict,
    figure_dir: str,
    executed: str,
    label: str,
    progress: bool = True,
    timeout: "float | None" = None,
    claims: str = "strict",
    claims_file: "str | None" = None,
    estimate: "float | None" = None,
) -> float:
    """Execute one chapter with papermill; returns the wall time in seconds.

    Top-level and picklable, so that a process pool can run it.  The kernel inherits
    ``PROMPTICL_CLAIMS=claims`` and, if given, ``PROMPTICL_CLAIMS_FILE=claims_file``, so that the
    chapter's ``claim`` calls are strict or reported (:mod:`prompticl._claims`) and recorded there.

    Raises
    ------
    ChapterFailed
        With one line naming the chapter, the failing cell and its error.
    """
    import papermill as pm
    from papermill.engines import papermill_engines

    papermill_engines.register("prompticl-progress", _progress_engine())
    start = time.perf_counter()
    # The kernel is a child of this process and inherits its environment: the one channel into it
    # that needs no change of the chapter.  Restored afterwards, as run_chapter may run in-process.
    saved = {k: os.environ.get(k) for k in (MODE_VARIABLE, FILE_VARIABLE)}
    os.environ[MODE_VARIABLE] = claims
    if claims_file:
        os.environ[FILE_VARIABLE] = claims_file
    else:
        os.environ.pop(FILE_VARIABLE, None)
    # papermill's logger (nbclient's too) writes e.g. "Timeout waiting for execute reply (1s)." on
    # stderr before the failure reaches us: every failure ends as our one line, so it stays quiet.
    pm_logger = logging.getLogger("papermill")
    was_disabled, pm_logger.disabled = pm_logger.disabled, True
    try:
        pm.execute_notebook(
            notebook,
            executed,
            parameters={**parameters, "figure_dir": figure_dir},
            engine_name="prompticl-progress",
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            cwd=str(Path(notebook).parent),
            execution_timeout=timeout,
            # ipykernel warns on every start that local TCP is unencrypted: noise on our stderr.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            # Nothing is left to save once the last cell ran; a graceful shutdown costs seconds.
            shutdown_kernel="immediate",
            progress_label=label,
            progress_report=(_time_left_report(start, estimate) if estimate else _stderr_report) if progress else None,
        )
    except Exception as exc:  # noqa: BLE001 - any failure becomes one picklable line
        raise ChapterFailed(_failure_message(chapter, exc, Path(executed))) from None
    finally:
        pm_logger.disabled = was_disabled
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return time.perf_counter() - start


def git_commit(path: Path) -> str:
    """The commit of the repository holding ``path`` (``+dirty`` if modified), or ``unknown``."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def default_out_dir(base: "str | os.PathLike" = "_build/figures") -> Path:
    """A fresh timestamped folder under ``base`` (not created)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out, i = Path(base) / stamp, 2
    while out.exists():
        out, i = Path(base) / f"{stamp}-{i}", i + 1
    return out


def check_out_dir(out: Path, force: bool, book: "Path | None" = None) -> None:
    """Refuse an existing non-empty output folder unless ``force``, and an output folder that is,
    contains or lies inside the book folder (before anything runs).

    Raises
    ------
    FigureError
    """
    shown = escape_control(str(out))
    if book is not None:
        o, b = Path(os.path.realpath(out)), Path(os.path.realpath(book))
        if o == b or b in o.parents:
            raise FigureError(f"--out {shown} is inside the book folder {b}: choose a folder outside the book")
        if o in b.parents:
            raise FigureError(f"--out {shown} contains the book folder {b}: choose a folder outside the book")
    try:
        if out.is_symlink() and not out.exists():
            raise FigureError(f"output path {shown} is a dangling symbolic link: give a folder, or remove the link")
        if out.exists() and not out.is_dir():
            raise FigureError(f"output path {shown} exists and is not a folder")
        if out.is_dir() and any(out.iterdir()):
            if not force:
                raise FigureError(f"output folder {shown} exists and is not empty; pass --force to replace it")
            if not (out / "provenance.json").is_file():  # --out . or --out ~ would lose everything in it
                raise FigureError(
                    f"output folder {shown} holds files that are not an earlier output of prompticl figures (it has no "
                    "provenance.json); --force replaces only such a folder: choose another --out"
                )
        # The run writes a temporary sibling of DIR and its missing parents: refuse now what would
        # fail then (a parent that is a file or a device, a folder without write permission).
        probe = Path(os.path.abspath(out)).parent
        while not os.path.lexists(probe):
            probe = probe.parent
        if not probe.is_dir():
            raise FigureError(f"--out {shown}: {escape_control(str(probe))} is not a folder")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise FigureError(f"--out {shown}: cannot create anything in {escape_control(str(probe))} (permission denied)")
    except OSError as exc:  # a name too long, a loop of links, permissions
        raise FigureError(f"cannot use output folder {shown}: {escape_control(exc.strerror or str(exc))}") from None


def _mkdirs(path: Path) -> list[Path]:
    """Create ``path`` and missing parents; return the folders created (deepest first)."""
    created = []
    probe = path
    while not probe.exists():
        created.append(probe)
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True)
    return created


def _seeds(values: Mapping[str, Any]) -> dict:
    return {k: v for k, v in values.items() if k == "seed" or k.endswith("_seed") or k in ("seeds",) or k.endswith("_seeds")}


def run_plan(
    plan: RunPlan,
    out: Path,
    jobs: int = 1,
    force: bool = False,
    progress: bool = True,
    command: "Sequence[str] | None" = None,
    timeout: "float | None" = None,
    claims: str = "strict",
    exiting: bool = False,
    estimates: "Mapping[str, float] | None" = None,
) -> dict:
    """Run every chapter of ``plan`` into a temporary sibling of ``out``, then move it into place.

    ``exiting``: the caller's process ends after the run (the command line), so after a signal the
    handled signals stay ignored (:func:`~prompticl._figures.processes.signals_interrupt`).
    ``estimates``: chapter name to estimated seconds, for the chapters whose progress lines should
    show the time left (those allowed beyond the budget by ``--allow-long``).

    ``claims`` is ``"strict"`` (a chapter's claim that does not hold fails the run, as on the book's
    defaults) or ``"report"`` (with a reader's own parameters: the chapter goes on).  Either way the
    provenance lists every claim the chapters made, under ``claims``.

    On success ``out`` holds ``NAME.{svg,png,pdf,json}`` for each requested figure,
    ``notebooks/<chapter>.ipynb`` (executed) and ``provenance.json``.  An existing ``out`` is
    replaced only if ``force``, and only if it is the folder that was there when the run started
    (moved aside, then deleted once the new one is in place); a folder that appears during the run
    is never replaced.  On any failure or signal ``out`` is left exactly as it was, and the
    temporary folder and the parent folders this run created are removed.

    Returns
    -------
    dict
        The provenance record.

    Raises
    ------
    FigureError
        ``out`` is not usable (checked before running), or appeared during the run.
    Interrupted
        SIGINT, SIGTERM or SIGHUP arrived (workers and kernels stopped, temporary folders removed).
    ChapterFailed
        A chapter raised or did not produce a declared figure.
    """
    from .. import __version__

    if claims not in MODES:
        raise ValueError(f"claims={claims!r}: expected one of {', '.join(MODES)}")
    out = Path(out).absolute()
    check_out_dir(out, force, plan.book)
    with signals_interrupt(exiting), run_owned_dirs():  # connection files and caches: removed however the run ends
        start_identity = _identity(out)  # the only folder a --force run may replace
        created: list[Path] = []
        tmp: "Path | None" = None
        try:
            try:
                created = _mkdirs(out.parent)
                tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
                os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the result follows the umask
            except OSError as exc:  # read-only or missing permissions: the user's input, nothing ran
                raise FigureError(
                    f"cannot create the output folder {escape_control(str(out))}: {exc.strerror or exc}"
                ) from None
            provenance = _run_into(plan, tmp, out, jobs, progress, command, timeout, __version__, claims,
                                   estimates or {})
            _move_into_place(tmp, out, force, start_identity)
            return provenance
        except BaseException:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            for folder in created:  # deepest first; only the ones this run created, and only if empty
                try:
                    folder.rmdir()
                except OSError:
                    break
            raise


def _run_into(plan: RunPlan, tmp: Path, out: Path, jobs: int, progress: bool, command, timeout, version: str,
              claims: str = "strict", estimates: "Mapping[str, float] | None" = None) -> dict:
    """Run the chapters into ``tmp`` and write the provenance; ``tmp`` then holds the final layout."""
    work = tmp / ".work"
    (tmp / "notebooks").mkdir()
    n = len(plan.chapters)
    tasks = []
    for k, chapter in enumerate(plan.chapters, 1):
        fig_dir = work / chapter.name
        fig_dir.mkdir(parents=True)
        tasks.append(
            dict(
                notebook=str(chapter.path),
                chapter=chapter.name,
                parameters=plan.parameters[chapter.name],
                figure_dir=str(fig_dir),
                executed=str(tmp / "notebooks" / f"{chapter.name}.ipynb"),
                label=f"[chapter {k}/{n}] {chapter.name}",
                progress=progress,
                timeout=timeout,
                claims=claims,
                claims_file=str(work / f"{chapter.name}.claims.jsonl"),
                estimate=(estimates or {}).get(chapter.name),
            )
        )
    start = time.perf_counter()
    timings = _run_tasks(tasks, jobs)
    total = time.perf_counter() - start

    figures_out: dict[str, list[str]] = {}
    recorded: list[dict] = []
    for chapter in plan.chapters:
        recorded += [{"chapter": chapter.name, **r} for r in read_claims(work / f"{chapter.name}.claims.jsonl")]
        fig_dir = work / chapter.name
        for name in plan.figures[chapter.name]:
            missing = [fmt for fmt in (*FIGURE_FORMATS, "json") if not (fig_dir / f"{name}.{fmt}").is_file()]
            if missing:
                raise ChapterFailed(
                    f"chapter {chapter.name} did not write figure {name!r} ({', '.join(missing)} missing): "
                    "does it call save_figure(fig, name, data, figure_dir)?"
                )
            for fmt in (*FIGURE_FORMATS, "json"):
                os.replace(fig_dir / f"{name}.{fmt}", tmp / f"{name}.{fmt}")
        figures_out[chapter.name] = list(plan.figures[chapter.name])
        executed = tmp / "notebooks" / f"{chapter.name}.ipynb"
        # The executed notebook records figure_dir; point it at the final folder, not the temp one.
        text = executed.read_text(encoding="utf-8").replace(str(fig_dir), str(out)).replace(str(tmp), str(out))
        executed.write_text(text, encoding="utf-8")
    shutil.rmtree(work)

    provenance = {
        "command": list(command) if command is not None else None,
        "command_line": shlex.join(command) if command is not None else None,
        "prompticl_version": version,
        "git_commit": git_commit(plan.book),
        "python": sys.version.split()[0],
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "book": str(plan.book),
        "jobs": jobs,
        "figures": figures_out,
        "parameters": plan.parameters,
        "seeds": {c: _seeds(v) for c, v in plan.parameters.items()},
        "specs": plan.specs,
        "timings_seconds": {"chapters": {c: round(t, 3) for c, t in timings.items()}, "total": round(total, 3)},
        "claims_mode": claims,
        "claims": recorded,
    }
    (tmp / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    return provenance


def _run_tasks(tasks: list[dict], jobs: int) -> dict[str, float]:
    if jobs <= 1 or len(tasks) <= 1:
        try:
            return {t["chapter"]: run_chapter(**t) for t in tasks}
        except BaseException:
            stop_processes()  # the kernel of the chapter that was running
            raise
    timings: dict[str, float] = {}
    # spawn: the parent may hold zmq/threads state that must not be forked.
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=get_context("spawn"),
                               initializer=worker_init)
    try:
        futures = {pool.submit(run_chapter, **t): t["chapter"] for t in tasks}
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:
            raise failed[0].exception()
        for fut in done:
            timings[futures[fut]] = fut.result()
    except BaseException:
        # Chapters still running would write into the temporary folder after it is removed, and
        # their kernels would outlive us: stop workers and kernels now, then release the pool.
        stop_processes()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return {t["chapter"]: timings[t["chapter"]] for t in tasks}


def _appeared(out: Path) -> FigureError:
    return FigureError(
        f"output folder {escape_control(str(out))} appeared while the run was going (another run, or made by "
        "hand); it was left as it is and the new figures were discarded"
    )


def _place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` onto ``out``, which must not exist: ``out`` is first created exclusively (so
    two runs cannot both succeed), then replaced by the rename, which fails if anything was put
    into it meanwhile."""
    try:
        os.mkdir(out)
    except FileExistsError:
        raise _appeared(out) from None
    try:
        os.rename(tmp, out)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise _appeared(out) from None  # somebody wrote into it: theirs now, left alone
        with _ignore_os_error():
            os.rmdir(out)
        raise


@contextmanager
def _ignore_os_error() -> Iterator[None]:
    try:
        yield
    except OSError:
        pass


def _move_into_place(tmp: Path, out: Path, force: bool, start_identity: "tuple[int, int] | None") -> None:
    """Move the finished ``tmp`` to ``out``, replacing only what the run was allowed to replace.

    ``start_identity`` is the (device, inode) of ``out`` when the run started (``None``: absent).
    A folder at ``out`` that is not that one appeared during the run and is never touched.  The
    one that was there is replaced only with ``force`` (moved aside, deleted once the new one is in
    place) or, without it, if it is still empty (``rmdir`` refuses a non-empty folder atomically).
    """
    now = _identity(out)
    if now is None:
        _place(tmp, out)
        return
    if now != start_identity:
        raise _appeared(out)
    if not force:
        try:
            os.rmdir(out)
        except OSError:
            raise FigureError(
                f"output folder {escape_control(str(out))} was empty when the run started but files were added "
                "since; it was left as it is (pass --force to replace it)"
            ) from None
        _place(tmp, out)
        return
    aside_dir = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    aside = aside_dir / "old"
    try:
        os.rename(out, aside)
        if _identity(aside) != start_identity:  # swapped between the check and the rename
            os.rename(aside, out)
            raise _appeared(out)
        try:
            _place(tmp, out)
        except BaseException:
            with _ignore_os_error():
                os.rename(aside, out)  # put the old folder back
            raise
    except BaseException:
        with _ignore_os_error():
            os.rmdir(aside_dir)
        raise
    shutil.rmtree(aside_dir, ignore_errors=True)
