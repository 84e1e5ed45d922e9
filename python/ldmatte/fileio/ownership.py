"""Files are safe: which inputs a command reads, which folder it may write, and how faults are told.

Every command that reads images and writes results goes through this module:

- :func:`check_disjoint` refuses a run whose inputs and outputs overlap (after
  resolving symbolic links), either way round: ``ldmatte trimap DS -o DS/alpha``
  would overwrite the dataset's mattes, ``-o X`` with input ``X/..`` would read
  its own outputs.
- :func:`collect_images` lists the input files once each (device + inode), in a
  stable order, without following directory links unless asked (and then safe
  from link loops); what cannot be read is listed with the reason, not raised.
- :meth:`OutputFolder.claim` takes an output folder for a command: a new or
  empty folder gets a marker ``.ldmatte-output.json`` naming the command and
  the settings that must stay fixed (a dataset's shard count); a non-empty
  folder without the marker, or with the marker of another command, is
  refused. A command therefore never replaces a file in a folder it did not make.
- :func:`check_output_file` applies the same rule to a single output file
  (``eval --json``, ``prompts -o``): it may not be an input or lie inside one,
  nor sit in another command's output folder, and an existing file is
  replaced only when its content names this command (:func:`signature`).
- :func:`fault_message` turns an OSError (read-only file system, disk full, file
  size limit, permission denied) into one line naming the path.
- :func:`stop_on_signals` turns Ctrl-C and SIGTERM into a flag that a batch
  checks between items: the items in flight finish, the summary is written,
  the command exits 130.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import json
import os
import signal
import stat
import threading
import uuid

from ._filetype import not_regular as _kind  # the name this module's listing uses

__all__ = ["UsageError", "OutputFault", "InputFile", "InputProblem", "OutputFolder", "MARKER", "check_disjoint",
           "collect_images", "check_output_file", "signature", "written_by", "fault_message",
           "stop_on_signals", "StopFlag"]  # fmt: skip

MARKER = ".ldmatte-output.json"
# Entries a file manager or an earlier killed run may leave in a folder the user thinks of as empty.
_IGNORABLE = {".DS_Store", "Thumbs.db", "desktop.ini"}


class UsageError(ValueError):
    """A problem with what the command was asked to do: nothing is done; the CLI prints the line and exits 2."""


class OutputFault(UsageError):
    """The output folder cannot be made or marked (read-only file system, disk full, permission denied).

    A fault rather than a usage mistake: nothing is done, and a CLI that tells
    faults apart prints the line and exits 1 (catch it before UsageError).
    ``errno`` and ``path`` are those of the OSError.
    """

    def __init__(self, exc: OSError, path):
        self.errno, self.path = exc.errno, os.fspath(path)
        super().__init__(fault_message(exc, path))


# --- inputs and outputs -----------------------------------------------------------------------------------------


def _inside(child: str, parent: str) -> bool:
    """True when resolved path ``child`` is ``parent`` or lies under it."""
    if child == parent:
        return True
    try:
        return os.path.commonpath([child, parent]) == parent
    except ValueError:  # different drives on Windows
        return False


def _resolved(path) -> str:
    return os.path.normcase(os.path.realpath(os.path.abspath(os.fspath(path))))


def check_disjoint(inputs, outputs) -> None:
    """Refuse inputs and outputs that are, contain or lie inside one another.

    Paths are resolved first (``..``, symbolic links), so a link to the output
    folder counts as the output folder. Paths need not exist yet.

    Raises
    ------
    UsageError
        Naming both paths.

    Examples
    --------
    >>> import os, tempfile
    >>> from ldmatte.files import check_disjoint
    >>> ds = tempfile.mkdtemp()
    >>> check_disjoint([ds], [ds + "-trimaps"])
    >>> check_disjoint([ds], [os.path.join(ds, "alpha")])
    Traceback (most recent call last):
    ...
    ldmatte.fileio.ownership.UsageError: output ... lies inside input ...: choose an output folder outside the inputs
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if isinstance(outputs, (str, os.PathLike)):
        outputs = [outputs]
    for src in inputs:
        rs = _resolved(src)
        for dst in outputs:
            rd = _resolved(dst)
            if rs == rd:
                why = "is the same as input"
            elif _inside(rd, rs):
                why = "lies inside input"
            elif _inside(rs, rd):
                why = "contains input"
            else:
                continue
            raise UsageError(f"output {os.fspath(dst)} {why} {os.fspath(src)}: choose an output folder outside the "
                             "inputs")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class InputFile:
    """One input file: ``path`` as found, ``rel`` its name relative to the folder given (``/``-separated; the
    file name for a file given by name), ``dev_inode`` what makes it unique, ``size`` and ``mtime_ns`` when listed."""

    path: str
    rel: str
    dev_inode: tuple
    size: int
    mtime_ns: int


@dataclasses.dataclass(frozen=True)
class InputProblem:
    """An input that cannot be used: ``path`` and the ``reason`` in a few words."""

    path: str
    reason: str


def _reason(exc: OSError) -> str:
    return {errno.ENOENT: "no such file", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.ELOOP: "symbolic link loop", errno.ENOTDIR: "no such file",
            errno.ENAMETOOLONG: "name too long"}.get(exc.errno, exc.strerror or str(exc))  # fmt: skip


def _walk(top: str, recursive: bool, follow_symlinks: bool, suffixes, found: list, problems: list) -> None:
    """Depth-first listing of ``top``; ``found`` gets (path, rel, stat) of candidate files."""
    visited = set()  # (dev, inode) of folders entered: a followed link back up is not entered again
    try:
        st = os.stat(top)
        visited.add((st.st_dev, st.st_ino))
    except OSError as exc:
        problems.append(InputProblem(top, _reason(exc)))
        return
    stack = [(top, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            problems.append(InputProblem(folder, f"cannot list folder: {_reason(exc)}"))
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):  # hidden: temp files of running writers, markers, .git
                continue
            rel = prefix + entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError as exc:
                problems.append(InputProblem(entry.path, _reason(exc)))
                continue
            if is_dir:
                if recursive and (follow_symlinks or not is_link):
                    subfolders.append((entry.path, rel))
                continue
            if not entry.name.lower().endswith(suffixes):
                continue
            try:
                st = os.stat(entry.path)
            except OSError as exc:
                problems.append(InputProblem(entry.path, "broken symbolic link" if is_link and exc.errno ==
                                             errno.ENOENT else _reason(exc)))  # fmt: skip
                continue
            found.append((entry.path, rel, st))
        for path, rel in reversed(subfolders):  # popped in name order
            try:
                st = os.stat(path)
            except OSError as exc:
                problems.append(InputProblem(path, _reason(exc)))
                continue
            key = (st.st_dev, st.st_ino)
            if key in visited:  # a link loop (or a second link to a folder already listed)
                continue
            visited.add(key)
            stack.append((path, rel + "/"))


def collect_images(inputs, *, recursive: bool = False, follow_symlinks: bool = False, suffixes=(".png",)):
    """The input files of a batch, each real file once, and the inputs that cannot be used.

    Parameters
    ----------
    inputs : path or sequence of paths
        Files (taken whatever their suffix: the reader decides) and folders
        (their files ending in one of ``suffixes``, case-insensitive; hidden
        names skipped).
    recursive : bool
        Also list subfolders of folders.
    follow_symlinks : bool
        Enter links to folders met while listing (each folder once, so a link
        loop such as ``a/loop -> ..`` ends). A folder given by name is always
        entered, and links to files are always followed.

    Returns
    -------
    files : list of InputFile
        In the order of ``inputs``, each folder's files sorted by relative
        path; a file met again (the same input twice, a hard link, a link to a
        file already listed) is left out: it is no failure.
    problems : list of InputProblem
        "no such file", "not a regular file (a named pipe)", "permission denied",
        "broken symbolic link", ... Nothing is opened, so a named pipe does not block.

    Examples
    --------
    >>> import os, tempfile
    >>> from ldmatte.files import collect_images
    >>> d = tempfile.mkdtemp(); open(os.path.join(d, "a.png"), "wb").close()
    >>> files, problems = collect_images([d, os.path.join(d, "a.png"), os.path.join(d, "gone.png")])
    >>> [f.rel for f in files], [p.reason for p in problems]
    (['a.png'], ['no such file'])
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    suffixes = tuple(s.lower() for s in suffixes)
    files, problems, seen = [], [], set()
    for arg in inputs:
        arg = os.fspath(arg)
        try:
            st = os.stat(arg)
        except OSError as exc:
            reason = _reason(exc)
            if exc.errno == errno.ENOENT and os.path.islink(arg):
                reason = "broken symbolic link"
            problems.append(InputProblem(arg, reason))
            continue
        if stat.S_ISDIR(st.st_mode):
            found = []
            _walk(arg, recursive, follow_symlinks, suffixes, found, problems)
            found.sort(key=lambda t: t[1])
        elif _kind(st) is not None:
            problems.append(InputProblem(arg, _kind(st)))
            continue
        else:
            found = [(arg, os.path.basename(arg), st)]
        for path, rel, fst in found:
            why = _kind(fst)
            if why is not None:
                problems.append(InputProblem(path, why))
                continue
            key = (fst.st_dev, fst.st_ino)
            if key in seen:
                continue
            seen.add(key)
            files.append(InputFile(path, rel, key, fst.st_size, fst.st_mtime_ns))
    return files, problems


# --- the output folder ------------------------------------------------------------------------------------------


def _listing(path: str) -> list[str]:
    from .readwrite import is_temp_name

    return [n for n in os.listdir(path)
            if n not in _IGNORABLE and not n.startswith((MARKER, f".{MARKER}.")) and not is_temp_name(n)]


def _read_marker(path: str) -> dict | None:
    """The marker of ``path``, None when there is none; a marker that is not ours raises UsageError."""
    marker = os.path.join(path, MARKER)
    try:
        with open(marker, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{marker} cannot be read ({exc}); it marks the folder as an ldmatte output: "
                         "repair or remove it, or choose another output folder") from exc  # fmt: skip
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise UsageError(f"{marker} is not an ldmatte output marker; choose another output folder")
    data.setdefault("settings", {})
    return data


def _write_marker_exclusive(path: str, record: dict) -> bool:
    """Create the marker only if there is none (complete or not at all): True when this call created it."""
    from .readwrite import write_bytes_atomic

    marker = os.path.join(path, MARKER)
    tmp = os.path.join(path, f".{MARKER}.{os.getpid()}-{uuid.uuid4().hex[:8]}.new")
    with open(tmp, "xb") as f:
        f.write((json.dumps(record, indent=2) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, marker)  # fails if a concurrent claim was first: exactly one creator
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: an exclusive create instead
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        os.close(fd)
        write_bytes_atomic(marker, (json.dumps(record, indent=2) + "\n").encode())
        return True
    finally:
        with contextlib.suppress(OSError):
            os.remove(tmp)


@dataclasses.dataclass(frozen=True)
class OutputFolder:
    """An output folder that a command may write: made by it (or by an earlier run of it), or handed over.

    ``path`` the folder, ``kind`` the command ("refine", "build", "trimap",
    "composite", ...), ``settings`` the values recorded when the folder was
    made (merged with those of this claim), ``is_new`` True when this claim
    made the folder or found it empty.
    """

    path: str
    kind: str
    settings: dict
    is_new: bool

    @classmethod
    def claim(cls, path, kind: str, *, overwrite: bool = False, settings: dict | None = None,
              option: str = "--overwrite") -> "OutputFolder":  # fmt: skip
        """Take ``path`` as the output folder of command ``kind``.

        - missing or empty: created, marked ``.ldmatte-output.json`` with
          ``{"kind", "created", "settings", "ldmatte"}``;
        - marked with the same kind: taken; every key of ``settings`` that the
          marker records must have the same value (a dataset's shard count),
          keys it lacks are added;
        - not empty and unmarked, or marked by another kind: refused, unless
          ``overwrite`` (the command's ``option``, None when it offers none),
          which takes an unmarked folder (and marks it) or leaves another
          command's marker as it is.

        Raises
        ------
        UsageError
            Naming the folder and the way out.
        OutputFault
            (a UsageError) when the folder cannot be made or marked: read-only,
            disk full, permission denied.

        Examples
        --------
        >>> import os, tempfile
        >>> from ldmatte.files import OutputFolder
        >>> out = os.path.join(tempfile.mkdtemp(), "trimaps")
        >>> OutputFolder.claim(out, "trimap").is_new
        True
        >>> OutputFolder.claim(out, "trimap").is_new
        False
        >>> OutputFolder.claim(out, "composite")
        Traceback (most recent call last):
        ...
        ldmatte.fileio.ownership.UsageError: ... is the output of 'ldmatte trimap', not of 'ldmatte composite'; ...
        """
        from .._version import __version__

        path = os.fspath(path)
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"kind must be a non-empty str, got {kind!r}")
        settings = dict(settings or {})
        way_out = "choose another (new or empty) output folder" + (f", or add {option} to write into it anyway"
                                                                    if option else "")  # fmt: skip
        if os.path.lexists(path) and not os.path.isdir(path):
            raise UsageError(f"output {path} exists and is not a folder; choose another output folder")
        try:
            os.makedirs(path, exist_ok=True)
            marker = _read_marker(path)
            if marker is None:
                if _listing(path) and not overwrite:
                    raise UsageError(f"output folder {path} is not empty and was not made by 'ldmatte {kind}': "
                                     f"its files could be replaced; {way_out}")  # fmt: skip
                record = {"kind": kind, "created": datetime.datetime.now(datetime.timezone.utc)
                          .isoformat(timespec="seconds"), "settings": settings, "ldmatte": __version__}  # fmt: skip
                is_new = not _listing(path)
                if _write_marker_exclusive(path, record):
                    return cls(path, kind, settings, is_new)
                marker = _read_marker(path)  # a concurrent claim made it first: check against it
                if marker is None:  # pragma: no cover - removed again meanwhile
                    raise UsageError(f"output folder {path} changed while it was being claimed; run again")
            if marker["kind"] != kind:
                if overwrite:
                    return cls(path, kind, settings, False)
                raise UsageError(f"output folder {path} is the output of 'ldmatte {marker['kind']}', not of "
                                 f"'ldmatte {kind}'; {way_out}")  # fmt: skip
            recorded = marker["settings"]
            for key, value in settings.items():
                if key in recorded and recorded[key] != value:
                    raise UsageError(f"output folder {path} was made with {key}={recorded[key]!r}; this run asks "
                                     f"for {key}={value!r}: use the same value, or another output folder")  # fmt: skip
            missing = {k: v for k, v in settings.items() if k not in recorded}
            if missing:
                from .readwrite import write_json_atomic

                marker["settings"] = {**recorded, **missing}
                write_json_atomic(os.path.join(path, MARKER), marker)
            return cls(path, kind, dict(marker["settings"]), False)
        except OSError as exc:
            raise OutputFault(exc, path) from exc


# --- a single output file ---------------------------------------------------------------------------------------

SIGNATURE_KEY = "written_by"
_SIGNATURE_READ_LIMIT = 64 << 20  # a JSON output larger than this is not read to prove it is ours


def signature(kind: str) -> dict:
    """The field a single-file output of command ``kind`` carries: ``{"written_by": "ldmatte <kind>"}``.

    A JSON output holds it at the top level, a JSON-lines output in its first
    record (or in every record); :func:`written_by` looks for it before a
    rerun replaces the file.

    Examples
    --------
    >>> from ldmatte.files import signature
    >>> signature("eval")
    {'written_by': 'ldmatte eval'}
    """
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"kind must be a non-empty str, got {kind!r}")
    return {SIGNATURE_KEY: f"ldmatte {kind}"}


def written_by(path, kind: str) -> bool:
    """True when the file at ``path`` carries :func:`signature` of ``kind``: a JSON object with it at the top
    level, or JSON lines whose first record has it. Anything else (another format, unreadable) is False.

    Examples
    --------
    >>> import os, json, tempfile
    >>> from ldmatte.files import signature, written_by
    >>> path = os.path.join(tempfile.mkdtemp(), "r.json")
    >>> _ = open(path, "w").write(json.dumps({**signature("eval"), "mean": {}}))
    >>> written_by(path, "eval"), written_by(path, "prompts")
    (True, False)
    """
    want = signature(kind)[SIGNATURE_KEY]
    try:
        st = os.stat(path)
        if _kind(st) is not None or st.st_size > _SIGNATURE_READ_LIMIT:
            return False
        with open(path, "rb") as f:
            first = f.readline(1 << 20)
            try:  # JSON lines (or JSON on one line): the first record
                record = json.loads(first)
            except ValueError:  # pretty-printed JSON: the whole document
                record = json.loads(first + f.read())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get(SIGNATURE_KEY) == want


def _output_folder_of(folder: str) -> tuple[str, str] | None:
    """(folder, kind) of the nearest ldmatte output folder holding resolved ``folder``; None when there is none."""
    while True:
        marker = os.path.join(folder, MARKER)
        if os.path.lexists(marker):
            try:
                data = _read_marker(folder)
            except UsageError:
                data = None
            return folder, (data or {}).get("kind", "?")
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def check_output_file(path, kind: str, *, inputs=(), overwrite: bool = False, option: str | None = None) -> str:
    """Check that command ``kind`` may write the single file ``path``; return it. Nothing is written.

    The ownership rule of output folders (:meth:`OutputFolder.claim`), for one
    file. Refused, after resolving links:

    - ``path`` is one of ``inputs`` (files or folders) or lies inside one;
    - ``path`` is a folder or not a regular file (a pipe, a device);
    - ``path`` lies inside an ldmatte output folder (a folder, or a folder above
      it, with ``.ldmatte-output.json``) made by another command;
    - ``path`` exists and its content does not carry :func:`signature` of
      ``kind`` (:func:`written_by`): a rerun replaces its own result, never a
      file it did not write.

    The last two give way to ``overwrite`` (the command's ``option``, None when
    it offers none); the first two never do.

    Raises
    ------
    UsageError
        Naming the file and the way out.

    Examples
    --------
    >>> import os, tempfile
    >>> from ldmatte.files import check_output_file
    >>> gt = tempfile.mkdtemp(); _ = open(os.path.join(gt, "a.png"), "wb").write(b"mine")
    >>> out = os.path.join(tempfile.mkdtemp(), "results.json")
    >>> check_output_file(out, "eval", inputs=[gt]) == out
    True
    >>> check_output_file(os.path.join(gt, "a.png"), "eval", inputs=[gt])
    Traceback (most recent call last):
    ...
    ldmatte.fileio.ownership.UsageError: output file ... lies inside input ...: choose an output file outside the inputs
    """
    path = os.fspath(path)
    signature(kind)  # checks kind
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    target = _resolved(path)
    for src in inputs:
        rs = _resolved(src)
        if rs == target or _inside(target, rs):
            why = "is the input" if rs == target else "lies inside input"
            raise UsageError(f"output file {path} {why} {os.fspath(src)}: choose an output file outside the "
                             "inputs")  # fmt: skip
    way_out = "choose another output file" + (f", or add {option} to replace it anyway" if option else "")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"output file {path}: {_reason(exc)}") from exc
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"output file {path} is a folder; name a file")
    if st is not None and _kind(st) is not None:
        raise UsageError(f"output file {path} is {_kind(st)}; choose another output file")
    owner = _output_folder_of(os.path.dirname(target))
    if owner is not None and owner[1] != kind and not overwrite:
        raise UsageError(f"output file {path} lies inside {owner[0]}, the output folder of 'ldmatte {owner[1]}': "
                         f"its files could be replaced; {way_out}")  # fmt: skip
    if st is not None and not overwrite and not written_by(target, kind):
        raise UsageError(f"output file {path} exists and was not written by 'ldmatte {kind}'; {way_out}")
    return path


# --- faults -----------------------------------------------------------------------------------------------------

_FAULTS = {
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "disk full (no space left on device)",
    errno.EFBIG: "file too large (file size limit reached)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "is a folder",
    errno.EIO: "input/output error (a failing disk or connection)",
    errno.EMFILE: "too many open files",
    errno.ENAMETOOLONG: "name too long",
}
if hasattr(errno, "EDQUOT"):
    _FAULTS[errno.EDQUOT] = "disk quota exceeded"


def fault_message(exc: BaseException, path=None) -> str:
    """One line for a fault: ``<path>: <what happened>``, no traceback.

    ``path`` defaults to the file named by the OSError.

    Examples
    --------
    >>> import errno
    >>> from ldmatte.files import fault_message
    >>> fault_message(OSError(errno.ENOSPC, "No space left on device"), "out/a.png")
    'out/a.png: disk full (no space left on device)'
    >>> fault_message(PermissionError(errno.EACCES, "Permission denied", "out"))
    'out: permission denied'
    """
    if isinstance(exc, OSError):
        what = _FAULTS.get(exc.errno) or exc.strerror or str(exc) or type(exc).__name__
        where = path if path is not None else (exc.filename if exc.filename is not None else None)
    else:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        where = path
    what = " ".join(str(what).split())  # one line
    return f"{os.fspath(where)}: {what}" if where is not None else what


# --- interruption -----------------------------------------------------------------------------------------------


class StopFlag:
    """Set when the user asked the command to stop (Ctrl-C or SIGTERM); ``signal_name`` says which."""

    def __init__(self):
        self._event = threading.Event()
        self.signal_name: str | None = None

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self, signal_name: str = "stop") -> None:
        if not self._event.is_set():
            self.signal_name = signal_name
        self._event.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def __bool__(self) -> bool:
        return self.is_set()


@contextlib.contextmanager
def stop_on_signals(signals=("SIGINT", "SIGTERM")):
    """Within the block, the first SIGINT or SIGTERM sets the yielded :class:`StopFlag` instead of raising.

    A second SIGINT (or SIGTERM) raises KeyboardInterrupt: a user who presses
    Ctrl-C twice does not wait. The previous handlers are restored on exit.
    Signals reach only the main thread; elsewhere the flag is never set by a
    signal (and may still be set by hand).

    Examples
    --------
    >>> from ldmatte.files import stop_on_signals
    >>> with stop_on_signals() as stop:
    ...     stop.is_set()
    False
    """
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    numbers = [getattr(signal, name) for name in signals if hasattr(signal, name)]

    def handler(signum, _frame):
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set(signal.Signals(signum).name)

    previous = {}
    try:
        for num in numbers:
            previous[num] = signal.signal(num, handler)
        yield flag
    finally:
        for num, old in previous.items():
            signal.signal(num, old)
