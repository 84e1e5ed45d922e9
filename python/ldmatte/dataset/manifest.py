"""Durable files of a dataset: atomic writes, the append-only manifest, shards and locks.

The manifest is the single source of truth. A sample is *done* when it has a
line; its image files are written (temp file, fsync, rename) before that line is
appended (one ``write`` of the whole line, flush, fsync). So after a kill at any
moment a manifest line always has its files, a torn last line can only be the
one being appended (it is dropped on start), and files without a line are
unfinished work (deleted on start and redone).

Several machines may build the same dataset folder with ``--shard i/n``: each
appends to its own ``manifest.shard-i-of-n.jsonl``; readers take the union of
all manifest files (``manifest.jsonl`` first). ``ldmatte qc`` merges them into
``manifest.jsonl``.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re

from ..fileio.readwrite import write_bytes_atomic

__all__ = [
    "MANIFEST",
    "SAFE_ID",
    "append_line",
    "check_id",
    "lock",
    "manifest_files",
    "parse_shard",
    "read_lines",
    "read_manifest",
    "repair_tail",
    "shard_manifest",
    "shard_of",
    "write_atomic",
    "write_jsonl_atomic",
]

MANIFEST = "manifest.jsonl"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
TMP_TAG = ".tmp"  # temp files of earlier versions were "<final name>.tmp<pid>" (removed on start)


def check_id(sample_id: str) -> str:
    """Return ``sample_id`` if it is usable as a file name, else raise ValueError."""
    if not isinstance(sample_id, str) or not SAFE_ID.match(sample_id):
        raise ValueError(f"sample id {sample_id!r} is not usable as a file name "
                         "(1..128 letters, digits, '.', '_', '-', starting with a letter or digit)")  # fmt: skip
    return sample_id


def parse_shard(text) -> tuple[int, int]:
    """``"i/n"`` (0 <= i < n) to ``(i, n)``.

    Examples
    --------
    >>> from ldmatte.dataset.manifest import parse_shard
    >>> parse_shard("1/4")
    (1, 4)
    """
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
        raise ValueError(f"shard must be 'i/n' with 0 <= i < n, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def shard_of(sample_id: str, n: int) -> int:
    """The shard (0..n-1) that owns a sample: a hash of its id, the same on every machine.

    Examples
    --------
    >>> from ldmatte.dataset.manifest import shard_of
    >>> shard_of("syn0-000001", 1), shard_of("syn0-000001", 4) == shard_of("syn0-000001", 4)
    (0, True)
    """
    digest = hashlib.sha256(sample_id.encode()).digest()
    return int.from_bytes(digest[:8], "little") % int(n)


def shard_manifest(shard: tuple[int, int]) -> str:
    """Manifest file name written by a shard (``manifest.jsonl`` without sharding)."""
    i, n = shard
    return MANIFEST if n == 1 else f"manifest.shard-{i}-of-{n}.jsonl"


def write_atomic(path: str, data: bytes, durable: bool = True) -> None:
    """Write ``data`` through a temp file beside ``path`` (:func:`ldmatte.io.write_bytes_atomic`'s names), fsync
    it, rename it over ``path``."""
    write_bytes_atomic(path, data, durable)


def write_jsonl_atomic(path: str, records) -> int:
    """Replace ``path`` by these records as JSON lines, atomically; return the count."""
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
    write_atomic(path, "".join(lines).encode("utf-8"))
    return len(lines)


def append_line(path: str, record: dict, durable: bool = True) -> None:
    """Append one JSON line with a single write, then flush and fsync."""
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def repair_tail(path: str) -> bool:
    """Truncate a torn last line (no newline, or not a JSON object); True if something was cut."""
    if not os.path.exists(path):
        return False
    size = os.path.getsize(path)
    with open(path, "rb+") as f:
        chunk = 1 << 16
        while True:  # read back from the end until the last two line breaks are in view
            base = max(0, size - chunk)
            f.seek(base)
            tail = f.read()
            if base == 0 or tail.count(b"\n") >= 2:
                break
            chunk *= 4
        end = tail.rfind(b"\n") + 1  # bytes up to the last complete line
        keep = end
        if end:
            start = tail.rfind(b"\n", 0, end - 1) + 1
            if not _is_record(tail[start:end]):
                keep = start
        if base + keep == size:
            return False
        f.truncate(base + keep)
        f.flush()
        os.fsync(f.fileno())
    return True


def _is_record(line: bytes) -> bool:
    try:
        rec = json.loads(line)
    except ValueError:
        return False
    return isinstance(rec, dict) and isinstance(rec.get("id"), str)


def read_lines(path: str) -> list[dict]:
    """Records of one JSON-lines file; lines that are not complete records are skipped."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, "rb") as f:
        for line in f:
            if line.endswith(b"\n") and _is_record(line):
                out.append(json.loads(line))
    return out


def manifest_files(root: str) -> list[str]:
    """All manifest files of a dataset folder, ``manifest.jsonl`` first."""
    shards = sorted(glob.glob(os.path.join(glob.escape(root), "manifest.shard-*-of-*.jsonl")))
    return [os.path.join(root, MANIFEST)] + shards


def read_manifest(root: str) -> dict[str, dict]:
    """Entries of a dataset by id (first occurrence wins, ``manifest.jsonl`` first), in file order."""
    entries: dict[str, dict] = {}
    for path in manifest_files(root):
        for rec in read_lines(path):
            entries.setdefault(rec["id"], rec)
    return entries


@contextlib.contextmanager
def lock(root: str, shard: tuple[int, int] | None = None, exclusive: bool = False):
    """Hold the dataset's locks: shared on the folder plus exclusive on ``shard``, or exclusive on the folder.

    An unsharded build and ``ldmatte qc`` hold the folder exclusively; sharded
    builds share it, each holding its own shard. The OS drops the locks when a
    process dies, so a killed run never leaves a stale lock. Raises
    RuntimeError when another process holds a conflicting lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks
        yield
        return
    names = [(".lock", fcntl.LOCK_EX if exclusive or shard is None or shard[1] == 1 else fcntl.LOCK_SH)]
    if shard is not None and shard[1] > 1 and not exclusive:
        names.append((f".lock-shard-{shard[0]}-of-{shard[1]}", fcntl.LOCK_EX))
    files = []
    try:
        for name, mode in names:
            f = open(os.path.join(root, name), "a+")
            files.append(f)
            try:
                fcntl.flock(f.fileno(), mode | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RuntimeError(f"the dataset folder {root} is in use by another ldmatte process "
                                   f"(lock {name})") from None  # fmt: skip
        yield
    finally:
        for f in files:
            f.close()
