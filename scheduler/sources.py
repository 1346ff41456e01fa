"""Data sources of status posts: an HTTP JSON document, a CSV file or URL, or a fixed value.

Fetching never raises past :meth:`SourceFetcher.gather`: every failure comes back as a message an
operator can act on (which source, which URL without its query, what went wrong), never a secret.
Header values written ``env:NAME`` are read from the environment when the source is fetched.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential


class SourceError(Exception):
    """A source could not deliver its value; the message is safe to show moderators."""


class _Transient(Exception):
    """A failure worth another attempt (5xx, 429, network)."""


@dataclass(frozen=True, slots=True)
class HttpJsonSource:
    url: str
    path: str | None = None  # `data.count`, `items.0.name`; None: the whole document
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    retries: int = 2


@dataclass(frozen=True, slots=True)
class CsvSource:
    file: str | None = None
    url: str | None = None
    op: str = "count"  # count | sum | first
    column: str | None = None
    where: Mapping[str, Any] = field(default_factory=dict)
    delimiter: str = ","
    timeout: float = 10.0
    retries: int = 2


@dataclass(frozen=True, slots=True)
class StaticSource:
    value: Any


Source = HttpJsonSource | CsvSource | StaticSource


def shown_url(url: str) -> str:
    """A URL fit for messages: without query string, fragment or credentials (they may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def extract(document: Any, path: str | None) -> Any:
    """Walk ``a.b.0.c`` into parsed JSON: names index objects, numbers index lists."""
    if not path:
        return document
    current = document
    walked: list[str] = []
    for part in path.split("."):
        where = ".".join(walked) or "the document"
        if isinstance(current, list):
            try:
                index = int(part)
            except ValueError:
                raise SourceError(f"path {path}: {where} is a list, so {part!r} should be a number") from None
            if not -len(current) <= index < len(current):
                raise SourceError(f"path {path}: {where} has {len(current)} items, so there is no item {index}")
            current = current[index]
        elif isinstance(current, dict):
            if part not in current:
                keys = ", ".join(sorted(map(str, current))[:12]) or "none"
                raise SourceError(f"path {path}: {where} has no key {part!r} (keys: {keys})")
            current = current[part]
        else:
            raise SourceError(f"path {path}: {where} is a {type(current).__name__}, it has no {part!r}")
        walked.append(part)
    return current


def _as_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _number(value: str, column: str, row: int) -> int | float:
    text = value.strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise SourceError(f"column {column!r}, row {row}: {value!r} is not a number") from None


def csv_value(text: str, source: CsvSource) -> Any:
    """count, sum or first over the rows whose ``where`` columns equal the given values."""
    reader = csv.DictReader(io.StringIO(text), delimiter=source.delimiter)
    columns = [c for c in (reader.fieldnames or []) if c is not None]
    wanted = [*source.where, *([source.column] if source.column else [])]
    for name in wanted:
        if name not in columns:
            raise SourceError(f"the CSV has no column {name!r} (columns: {', '.join(columns) or 'none'})")
    expected = {k: _as_text(v) for k, v in source.where.items()}
    rows = [
        (number, row)
        for number, row in enumerate(reader, start=2)  # row 1 is the header
        if all((row.get(k) or "").strip() == v for k, v in expected.items())
    ]
    if source.op == "count":
        return len(rows)
    assert source.column is not None  # the config demands a column for sum and first
    if source.op == "sum":
        return sum(_number(row[source.column] or "", source.column, n) for n, row in rows)
    if source.op == "first":
        if not rows:
            condition = ", ".join(f"{k} = {v!r}" for k, v in expected.items()) or "any"
            raise SourceError(f"no CSV row matches {condition}")
        return (rows[0][1][source.column] or "").strip()
    raise SourceError(f"unknown op {source.op!r}: use count, sum or first")


class SourceFetcher:
    def __init__(
        self, client: httpx.AsyncClient, env: Mapping[str, str] | None = None, retry_wait: float = 0.5
    ) -> None:
        self._client = client
        self._env = env if env is not None else os.environ
        self._retry_wait = retry_wait

    async def gather(self, sources: Mapping[str, Source]) -> tuple[dict[str, Any], dict[str, str]]:
        """Fetch all sources concurrently: (values by name, failure messages by name)."""
        names = list(sources)
        results = await asyncio.gather(*(self.fetch(sources[n]) for n in names), return_exceptions=True)
        values: dict[str, Any] = {}
        failures: dict[str, str] = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # cancellation and friends pass through
                failures[name] = _describe(result, sources[name])
            else:
                values[name] = result
        return values, failures

    async def fetch(self, source: Source) -> Any:
        if isinstance(source, StaticSource):
            return source.value
        if isinstance(source, HttpJsonSource):
            response = await self._get(source.url, self._headers(source.headers), source.timeout, source.retries)
            try:
                document = response.json()
            except ValueError:
                raise SourceError(f"{shown_url(source.url)} did not answer JSON") from None
            return extract(document, source.path)
        if source.file is not None:
            try:
                text = await asyncio.to_thread(Path(source.file).read_text, encoding="utf-8-sig")
            except OSError as exc:
                raise SourceError(f"CSV file {source.file} cannot be read: {exc.strerror or exc}") from None
        else:
            assert source.url is not None
            text = (await self._get(source.url, {}, source.timeout, source.retries)).text
        return csv_value(text, source)

    def _headers(self, configured: Mapping[str, str]) -> dict[str, str]:
        headers = {}
        for name, value in configured.items():
            if value.startswith("env:"):
                variable = value[4:].strip()
                if variable not in self._env:
                    raise SourceError(f"header {name} needs the environment variable {variable}, which is not set")
                value = self._env[variable]
            headers[name] = value
        return headers

    async def _get(self, url: str, headers: dict[str, str], timeout: float, retries: int) -> httpx.Response:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(retries + 1),
            wait=wait_exponential(multiplier=self._retry_wait, max=max(self._retry_wait * 8, 0.0)),
            retry=retry_if_exception_type((_Transient, httpx.TransportError)),
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    response = await self._client.get(url, headers=headers, timeout=timeout)
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _Transient(f"HTTP {response.status_code}")
                    if response.status_code >= 400:
                        raise SourceError(f"{shown_url(url)} answered HTTP {response.status_code}")
                    return response
        except _Transient as exc:
            raise SourceError(f"{shown_url(url)} answered {exc} ({_tries(attempts)})") from None
        except httpx.TimeoutException:
            raise SourceError(f"{shown_url(url)} timed out after {timeout:g}s ({_tries(attempts)})") from None
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise SourceError(f"{shown_url(url)} cannot be reached: {reason} ({_tries(attempts)})") from None
        raise AssertionError("unreachable: tenacity either returns or raises")


def _tries(attempts: int) -> str:
    return "1 attempt" if attempts == 1 else f"{attempts} attempts"


def _describe(error: Exception, source: Source) -> str:
    if isinstance(error, SourceError):
        return str(error)
    where = shown_url(source.url) if isinstance(source, HttpJsonSource) and source.url else "the source"
    return f"{where}: {type(error).__name__}: {error}"
