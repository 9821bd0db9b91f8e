"""`AiohttpRequest`: python-telegram-bot's HTTP layer on aiohttp. PTB's own `HTTPXRequest` spends several
times more CPU per request once dozens are in flight (httpcore's pool scans every connection for every
queued request), which caps the outbox far below Telegram's paid broadcast rate; this one keeps up.

It keeps PTB's contract: (status, body) back to `BaseRequest`, which maps 4xx/5xx to `BadRequest`,
`Forbidden`, `RetryAfter` ...; timeouts raise `TimedOut` and connection failures `NetworkError`, as
`HTTPXRequest` does; the four timeouts mean what they mean there (connect: opening a connection; write:
each chunk of the request body; read: each wait for the answer; pool: waiting for a free connection).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
import uuid
from typing import IO
from urllib.parse import urlencode, urlsplit

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

_log = logging.getLogger(__name__)
WRITE_CHUNK = 64 * 1024  # as httpx: the write timeout bounds each chunk, not the whole upload
_FORM = "application/x-www-form-urlencoded"


class _Body(Payload):
    """A request body written in chunks, each within the write timeout (aiohttp has no write timeout)."""

    def __init__(self, value: bytes, content_type: str, write_timeout: float | None) -> None:
        super().__init__(value, content_type=content_type)
        self._size = len(value)
        self._write_timeout = write_timeout

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return bytes(self._value).decode(encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return bytes(self._value)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: AbstractStreamWriter, content_length: int | None) -> None:
        view = memoryview(self._value)
        if content_length is not None:
            view = view[:content_length]
        if len(view) <= WRITE_CHUNK:
            # Below aiohttp's buffer limit a write returns at once (nothing to wait for, no timer).
            await writer.write(view)
            return
        for start in range(0, len(view), WRITE_CHUNK):
            async with asyncio.timeout(self._write_timeout):
                await writer.write(view[start : start + WRITE_CHUNK])


def _quote(value: str) -> str:
    # The HTML form encoding of names in multipart headers (what httpx and browsers send).
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def encode_multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes | IO[bytes], str]]
) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data request: the parameters, then the files."""
    boundary = uuid.uuid4().hex
    dash = f"--{boundary}\r\n".encode()
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks += [
            dash,
            f'Content-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode(),
            value.encode(),
            b"\r\n",
        ]
    for name, (filename, content, mimetype) in files.items():
        data = content if isinstance(content, bytes) else content.read()
        chunks += [
            dash,
            f'Content-Disposition: form-data; name="{_quote(name)}"; filename="{_quote(filename)}"\r\n'
            f"Content-Type: {mimetype}\r\n\r\n".encode(),
            data,
            b"\r\n",
        ]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


class AiohttpRequest(BaseRequest):
    """One aiohttp session with up to `connection_pool_size` keep-alive connections; the same
    arguments and defaults as PTB's `HTTPXRequest` (timeouts in seconds, None: no limit)."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_slots",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Made here, in the loop that uses it; the pool limit is ours (pool timeout), not aiohttp's.
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            # No trust_env: aiohttp would then look up netrc and the proxy variables in a thread for
            # every request; the proxy variables are read once instead (`_proxy`).
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self._slots = asyncio.Semaphore(self._pool_size)
            self._proxies.clear()

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    @property
    def closed(self) -> bool:
        return self._session is None or self._session.closed

    def _proxy(self, url: str) -> str | None:
        """The proxy for this URL from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as httpx honours them."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            proxy = urllib.request.getproxies().get(parts.scheme)
            if proxy is not None and urllib.request.proxy_bypass(key[1]):
                proxy = None
            self._proxies[key] = proxy
        return self._proxies[key]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session, slots = self._session, self._slots
        if session is None or session.closed or slots is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None else None
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if files else self._write_timeout
        params = request_data.json_parameters if request_data is not None else {}
        body: _Body | None = None
        if files:
            content, ctype = encode_multipart(params, files)
            body = _Body(content, ctype, write_timeout)
        elif params:  # form-encoded, as PTB sends it with httpx
            body = _Body(urlencode(params).encode(), _FORM, write_timeout)
        try:
            if slots.locked():  # every connection busy: wait, up to the pool timeout
                async with asyncio.timeout(pool_timeout):
                    await slots.acquire()
            else:
                await slots.acquire()
        except TimeoutError as err:
            raise TimedOut(
                "Pool timeout: All connections in the connection pool are occupied. Request was *not* "
                "sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
            ) from err
        try:
            async with session.request(
                method,
                url,
                data=body,
                proxy=self._proxy(url),
                timeout=aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout),
                allow_redirects=False,  # as httpx: a redirect is an answer, not followed
            ) as response:
                payload = await response.read()
                # As httpx logs each request (the token in the URL is masked by the log pipeline).
                _log.info('HTTP Request: %s %s "%s %s"', method, url, response.status, response.reason)
                return response.status, payload
        except TimeoutError as err:  # aiohttp's ServerTimeoutError is one, and so is a write timeout
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
        finally:
            slots.release()


def build_request(
    http: str,
    *,
    connection_pool_size: int,
    read_timeout: float | None = 5.0,
    write_timeout: float | None = 5.0,
    connect_timeout: float | None = 5.0,
    pool_timeout: float | None = 1.0,
    media_write_timeout: float | None = 20.0,
) -> BaseRequest:
    """The request class `telegram.http` names ("aiohttp" or "httpx", PTB's own), with these limits."""
    kind = AiohttpRequest if http == "aiohttp" else HTTPXRequest
    return kind(
        connection_pool_size=connection_pool_size,
        read_timeout=read_timeout,
        write_timeout=write_timeout,
        connect_timeout=connect_timeout,
        pool_timeout=pool_timeout,
        media_write_timeout=media_write_timeout,
    )
