"""One way out for a solved run: check the plan, then write it whole or not at all.

``deliver`` runs the independent checker first; a plan that fails it raises ``PlanCheckError`` and
nothing is written. A sound plan is written with its reports into a temporary folder beside the
target, which is renamed into place when complete. A plan folder carries the marker file
``.allocator-plan``; an existing folder is replaced only when it has that marker or is empty, so
allocator never deletes a folder it did not write.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from allocator._heap import frozen_heap
from allocator._version import __version__
from allocator.errors import OutputError, PlanCheckError, SolverError
from allocator.instance.io import atomic_path
from allocator.results import FORMATS, write_plan
from allocator.results.check import CheckReport, check_plan

if TYPE_CHECKING:
    from allocator.instance.model import Instance
    from allocator.pipeline import RunResult
    from allocator.results import Plan

__all__ = [
    "MARKER",
    "check_format",
    "check_target",
    "default_out",
    "deliver",
    "is_plan_folder",
    "plan_path",
    "slug",
]

MARKER = ".allocator-plan"
"""File inside every plan folder allocator writes: it may replace that folder, and no other."""
OUT_ROOT = Path("out")
"""Where default output folders go, named after the instance."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def slug(name: str) -> str:
    """``name`` as one safe folder name: letters, digits and ``. _ + -`` only, no ``..``, not
    starting with a dot or dash; ``plan`` when nothing is left (``../../x`` gives ``x``)."""
    text = re.sub(r"\.{2,}", ".", _UNSAFE.sub("-", name))
    text = re.sub(r"-{2,}", "-", text).strip("._+-")
    return text or "plan"


def default_out(inst: Instance, suffix: str = "") -> Path:
    """The default output path of a run of ``inst``: ``out/<slug of its name><suffix>``."""
    return OUT_ROOT / slug(inst.name + suffix)


def is_plan_folder(path: Path) -> bool:
    """Whether ``path`` is a folder allocator may replace: it holds the marker, or nothing."""
    return path.is_dir() and ((path / MARKER).is_file() or not any(path.iterdir()))


def _is_plan_workbook(path: Path) -> bool:
    """Whether ``path`` is an Excel plan written by allocator (its summary and flows sheets)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True)
    except Exception:  # not a workbook at all
        return False
    try:
        return {"summary", "flows"} <= set(book.sheetnames)
    finally:
        book.close()


def _refuse(path: Path, what: str) -> OutputError:
    return OutputError(
        f"{path} {what}; allocator replaces only plan folders it wrote itself "
        f"(marked {MARKER}): choose another --out or move it away"
    )


def check_format(fmt: str) -> None:
    """OutputError unless ``fmt`` is a plan format (csv, parquet, xlsx)."""
    if fmt not in FORMATS:
        raise OutputError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def plan_path(out: str | Path, fmt: str = "csv") -> Path:
    """Where a plan for ``out`` goes: the folder itself, or ``OUT.xlsx`` for an Excel plan."""
    return Path(out).with_suffix(".xlsx") if fmt == "xlsx" else Path(out)


def check_target(out: str | Path, fmt: str = "csv") -> Path:
    """The path ``deliver`` writes for ``out``, or OutputError when it may not be written.

    A folder plan (csv, parquet) may replace an empty folder or an allocator plan folder; an
    Excel plan ``OUT.xlsx`` (with ``OUT.md``, ``OUT.html`` beside) may replace a plan workbook.
    Anything else at the path (a file, another folder, a symbolic link) is refused untouched.
    """
    check_format(fmt)
    out = Path(out)
    if out.name in ("", ".", ".."):
        raise OutputError(f"{out} is not a name for a plan folder; give --out a new folder")
    target = plan_path(out, fmt)
    try:
        if target.is_symlink():
            raise _refuse(target, "is a symbolic link")
        if fmt == "xlsx":
            ours = target.is_file() and _is_plan_workbook(target)
            if target.exists() and not ours:
                raise _refuse(target, "exists and is not a plan workbook written by allocator")
            for beside in (target.with_suffix(".md"), target.with_suffix(".html")):
                if beside.is_symlink() or beside.is_dir() or (beside.exists() and not ours):
                    raise _refuse(beside, "exists and does not belong to a plan workbook")
        elif target.exists() and not target.is_dir():
            raise _refuse(target, "is a file, not a plan folder")
        elif target.exists() and not is_plan_folder(target):
            raise _refuse(target, "exists and is not a plan folder written by allocator")
    except OSError as exc:
        raise OutputError(f"cannot use {target}: {exc.strerror or exc}") from None
    return target


def deliver(
    res: RunResult, out: str | Path | None, *, fmt: str = "csv", report: bool = True
) -> CheckReport:
    """Check the plan of ``res``, then write it to ``out`` whole or not at all.

    Raises PlanCheckError when the independent checker finds a violation (nothing is written),
    OutputError when ``out`` holds something allocator did not write or cannot be written. A
    folder plan holds the plan tables, ``instance.json``, ``report.md`` and ``report.html`` (with
    ``report``) and the marker; all are written in a temporary folder renamed into place at the
    end. ``out=None`` only checks. Uses ``res.plan`` and ``res.instance`` alone.
    """
    plan, inst = res.plan, res.instance
    if plan is None:
        raise SolverError(f"{inst.name}: the solver stopped without a plan")
    with frozen_heap():
        return _deliver(plan, inst, out, fmt, report)


def _deliver(
    plan: Plan, inst: Instance, out: str | Path | None, fmt: str, report: bool
) -> CheckReport:
    checked = check_plan(plan, inst)
    if not checked.ok:
        raise PlanCheckError(inst.name, checked.errors)
    if out is None:
        return checked
    target = check_target(out, fmt)
    try:
        with atomic_path(target) as work:
            if fmt == "xlsx":  # the workbook is renamed into place last, after its reports
                write_plan(plan, work, fmt)
                if report:
                    _write_reports(
                        plan, inst, target.with_suffix(".md"), target.with_suffix(".html")
                    )
            else:
                write_plan(plan, work, fmt, inst)
                if report:
                    _write_reports(plan, inst, work / "report.md", work / "report.html")
                (work / MARKER).write_text(
                    "# allocator plan folder: allocator replaces it whole when it writes here\n"
                    f'allocator = "{__version__}"\nformat = "{fmt}"\n',
                    encoding="utf-8",
                )
    except OSError as exc:  # a full disk, no permission, a parent that is a file
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    return checked


def _write_reports(plan: Plan, inst: Instance, md: Path, html: Path) -> None:
    from allocator.report.html import write_html_report
    from allocator.report.markdown import write_markdown

    write_markdown(plan, md)
    write_html_report(html, {inst.name: plan}, {inst.name: inst})
