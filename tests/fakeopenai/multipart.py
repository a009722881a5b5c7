"""A small, strict multipart/form-data parser, so the recorded request shows exactly what the client sent."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


class MultipartError(ValueError):
    pass


@dataclass
class FilePart:
    field: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[FilePart] = field(default_factory=list)

    def first(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None

    def array(self, name: str) -> list[str] | None:
        """`name[]` repeated fields (the SDK's bracket format); plain repeated `name` also counts."""
        values = self.fields.get(name + "[]", []) + self.fields.get(name, [])
        return values or None

    def object(self, name: str) -> Any:
        """`name[key]=v` sub-fields, a JSON object string, or the plain string (e.g. `auto`)."""
        prefix = name + "["
        sub = {
            k[len(prefix) : -1]: v[0]
            for k, v in self.fields.items()
            if k.startswith(prefix) and k != name + "[]"
        }
        if sub:
            return sub
        raw = self.first(name)
        if raw is None:
            return None
        if raw.lstrip().startswith("{"):
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                return raw
        return raw

    def base_names(self) -> set[str]:
        """Field names without their `[]` / `[key]` suffix, files included."""
        names = {k.split("[", 1)[0] for k in self.fields}
        names.update(f.field for f in self.files)
        return names


def boundary_of(content_type: str) -> bytes:
    if not content_type.lower().startswith("multipart/form-data"):
        raise MultipartError("Content-Type must be multipart/form-data")
    params = dict((k.lower(), v.strip('"')) for k, v in _PARAM.findall(content_type))
    if not params.get("boundary"):
        raise MultipartError("multipart boundary missing")
    return params["boundary"].encode("latin-1")


def parse(body: bytes, content_type: str) -> Form:
    delimiter = b"--" + boundary_of(content_type)
    form = Form()
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise MultipartError("multipart body is not terminated by the closing boundary")
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise MultipartError("malformed multipart part framing")
        head, sep, data = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise MultipartError("multipart part without header/body separator")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = {
            k.lower(): v[1:-1] if v.startswith('"') else v.strip() for k, v in _PARAM.findall(disposition)
        }
        if "name" not in params:
            raise MultipartError("multipart part without a name")
        if "filename" in params:
            form.files.append(FilePart(params["name"], params["filename"], headers.get("content-type"), data))
        else:
            form.fields.setdefault(params["name"], []).append(data.decode("utf-8", "replace"))
    return form
