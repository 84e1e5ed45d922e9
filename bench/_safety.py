"""What the safety replays share (``data_safety.py``, ``resume_safety.py``, ``video_safety.py``).

Each case runs the ``ldmatte`` command as a user would (a subprocess of this
interpreter), hashes the user's files before and after, and passes when none
was lost or changed, no traceback was printed, nothing hung and the command did
what README's "Your files are safe" asks.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

TIMEOUT = 600  # a command still running after this long hangs: the case fails


def ldmatte(*args, timeout=TIMEOUT, cwd=None) -> subprocess.CompletedProcess:
    """Run ``python -m ldmatte ARGS``; a hang comes back as ``returncode None`` (the child is killed)."""
    cmd = [sys.executable, "-m", "ldmatte", *map(str, args)]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(cmd, None, exc.stdout or "", f"still running after {timeout} s")


def sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snapshot(*roots) -> dict:
    """SHA-256 of every regular file under ``roots`` (links not followed, named pipes never opened)."""
    out = {}
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for name in files:
                p = os.path.join(dirpath, name)
                if os.path.isfile(p) and not os.path.islink(p):
                    out[p] = sha256(p)
    return out


def damaged(before: dict) -> list[str]:
    """The user's files that are gone or changed, each with which."""
    return [f"{p} {'changed' if os.path.isfile(p) else 'gone'}" for p, h in sorted(before.items())
            if not os.path.isfile(p) or sha256(p) != h]  # fmt: skip


def last_line(proc) -> str:
    lines = [line for line in (proc.stderr or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def verdict(proc, before: dict, ok: bool = True, extra: str = "", *, seconds: float | None = None):
    """``(passed, one line)``: passed when ``ok``, no user file lost, no traceback and no hang."""
    lost = damaged(before)
    traceback = "Traceback" in (proc.stderr or "")
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    what = f"exit {proc.returncode}{took}: {last_line(proc)[:200]}"
    if lost:
        what += f"; {len(lost)} user files lost or changed: " + ", ".join(lost[:4])
    if traceback:
        what += "; a traceback was printed"
    passed = ok and not lost and not traceback and proc.returncode is not None
    return passed, what + (f"; {extra}" if extra else "")


def run_cases(cases: dict, prefix: str, description: str, argv=None) -> int:
    """The command line of a replay: every case (or ``--case NAME`` ones) in its own temp folder; exit 1 on a fail."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--case", action="append", choices=sorted(cases), help="run only this case (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temp folders (their paths are printed)")
    args = ap.parse_args(argv)
    names = args.case or list(cases)
    failed = 0
    for name in names:
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"{prefix}-{name}-"))
        try:
            ok, what = cases[name](tmp)
        except Exception as exc:  # noqa: BLE001 - a case that crashes is a failed case, the others still run
            ok, what = False, f"the case itself failed: {type(exc).__name__}: {exc}"
        finally:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {what}" + (f"  [{tmp}]" if args.keep else ""), flush=True)
    print(f"{len(names) - failed} of {len(names)} cases pass")
    return 1 if failed else 0
