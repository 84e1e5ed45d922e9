"""Whether a path is a regular file: the one test both the image readers and the input listing make.

Its own module below both: :mod:`~ldmatte.fileio.readwrite` refuses to open a pipe or a device (reading one
could block or never end) and :mod:`~ldmatte.fileio.ownership` lists it as a problem input, without either
importing the other for it.
"""
from __future__ import annotations

import os
import stat

__all__ = ["not_regular"]


def not_regular(st: os.stat_result) -> str | None:
    """None for a regular file, else why it is not one.

    Examples
    --------
    >>> import os, tempfile
    >>> from ldmatte.fileio._filetype import not_regular
    >>> not_regular(os.stat(tempfile.mkdtemp()))
    'not a regular file'
    """
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISFIFO(st.st_mode):
        return "not a regular file (a named pipe)"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "not a regular file (a device)"
    if stat.S_ISSOCK(st.st_mode):
        return "not a regular file (a socket)"
    return "not a regular file"
