"""Uploads (recipient lists, auditors' copies of them) streamed to disk, never held whole.

A CSV arrives as a ``text/csv`` body or as the file part of a form; either way it is written to a
file chunk by chunk and read back line by line by whoever parses it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from gateway.errors import GatewayError

__all__ = ["csv_upload"]


async def csv_upload(request: Request, into: Path, limit: int) -> Path:
    """Streams a CSV upload (a ``text/csv`` body, or the file part of a form) to a file
    under `into`, never holding it whole in memory: lists of a million rows are ~60 MB. The
    caller removes the file."""
    into.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=into, prefix="upload-", suffix=".csv")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if request.headers.get("content-type", "").startswith("multipart/form-data"):
                await _copy_file_part(request, handle)
            else:
                size = 0
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise GatewayError("PayloadTooLarge", f"the CSV is over {limit} bytes")
                    handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


async def _copy_file_part(request: Request, handle: IO[bytes]) -> None:
    # python-multipart (through Starlette) spools file parts to disk past 1 MiB.
    try:
        form = await request.form(max_files=1, max_fields=10)
    except MultiPartException as exc:
        raise GatewayError("InvalidRequest", f"the form is malformed: {exc.message}") from None
    try:
        upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise GatewayError("InvalidRequest", "the form has no file part", {"field": "file"})
        while chunk := await upload.read(1 << 20):
            handle.write(chunk)
    finally:
        await form.close()
