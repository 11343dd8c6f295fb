"""Byte streams a strict XML parser can read: magic-byte sniffing, UTF-8 repair, a lenient gunzip.

PubMed files are UTF-8 XML, but real files and responses carry what stops a strict parser: raw C0
control characters and references to them (forbidden by XML 1.0), bytes that are not UTF-8, and
gzip files cut short. The readers here rewrite or stop cleanly at those, so one bad byte costs at
most one record (see `litmine.tasks.sources.pubmed_xml`).
"""

from __future__ import annotations

import codecs
import re
import zlib
from typing import BinaryIO

__all__ = ["INVALID_BYTE_MARK", "LenientGunzip", "Prefixed", "HeadRecorder", "Utf8Cleaner"]

#: Stands in for bytes that are not UTF-8: the last private-use code point, valid in XML 1.0 and
#: absent from PubMed text (U+FFFD is not used because real records contain it).
INVALID_BYTE_MARK = "\U0010fffd"

# What the byte-level cleaner rewrites: raw C0 controls (dropped as bytes: they are never part of
# a multi-byte UTF-8 sequence), references to C0 controls (dropped), runs of undecodable bytes
# (surrogateescape'd by the decoder; -> INVALID_BYTE_MARK).
_C0_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_C0_REFERENCE = re.compile("&#(?:[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]));")
_UNDECODABLE = re.compile("[\udc80-\udcff]+")


class Prefixed:
    """A reader that returns `head` and then the rest of `raw` (after sniffing the magic bytes)."""

    def __init__(self, head: bytes, raw: BinaryIO):
        self._head, self._raw = head, raw

    def read(self, size: int | None = -1) -> bytes:
        head, self._head = self._head, b""
        if size is None or size < 0:
            return head + self._raw.read()
        if size < len(head):
            head, self._head = head[:size], head[size:]
        return head + self._raw.read(size - len(head)) if len(head) < size else head


class HeadRecorder:
    """A reader that keeps the first `keep` bytes it passes on (to tell, after a parse error,
    whether the document had started: lxml 6 / libxml2 2.14 raise an error found in a read
    chunk before handing out the events parsed ahead of it in that chunk)."""

    def __init__(self, raw, keep: int = 1 << 16):
        self._raw, self._keep, self.head = raw, keep, b""

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(size)
        if len(self.head) < self._keep:
            self.head += data[:self._keep - len(self.head)]
        return data


class Utf8Cleaner:
    """A reader over UTF-8 XML that rewrites what a strict XML parser would stop on (see above)."""

    def __init__(self, raw):
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._carry = ""  # a possible character reference cut by the chunk boundary
        self._done = False
        self._passthrough: bool | None = None

    def read(self, size: int | None = -1) -> bytes:
        size = size if size and size > 0 else 1 << 15  # lxml asks for its chunk_size, 32 KiB
        while not self._done:
            data = self._raw.read(size)
            if self._passthrough is None:
                self._passthrough = declares_other_encoding(data)
            if self._passthrough:
                self._done = not data
                return data
            self._done = not data
            text = self._carry + self._decoder.decode(data.translate(None, _C0_BYTES), final=self._done)
            self._carry = ""
            # hold back a reference cut by the read: the longest one XML allows without leading
            # zeros, "&#1114111;", has 10 characters; 12 leaves room for a couple of zeros
            amp = text.rfind("&", max(0, len(text) - 12))
            if not self._done and amp != -1 and ";" not in text[amp:]:
                text, self._carry = text[:amp], text[amp:]
            if _C0_REFERENCE.search(text):
                text = _C0_REFERENCE.sub("", text)
            try:
                encoded = text.encode("utf-8")
            except UnicodeEncodeError:  # the decoder met bytes that are not UTF-8
                encoded = _UNDECODABLE.sub(INVALID_BYTE_MARK, text).encode("utf-8")
            if encoded:
                return encoded
        return b""


def declares_other_encoding(head: bytes) -> bool:
    """True when the XML starts with a UTF-16 BOM or declares an encoding other than UTF-8."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    declared = re.match(rb"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)", head.removeprefix(b"\xef\xbb\xbf"))
    return bool(declared) and declared.group(1).lower().replace(b"-", b"") != b"utf8"


class LenientGunzip:
    """A gzip reader that ends where the data stops decompressing (a cut file) instead of raising."""

    def __init__(self, raw):
        self._raw, self._z, self._done = raw, zlib.decompressobj(16 + zlib.MAX_WBITS), False

    def read(self, size: int | None = -1) -> bytes:
        while not self._done:
            data = self._raw.read(1 << 16)
            try:
                out = self._z.decompress(data) if data else self._z.flush()
                if self._z.eof and self._z.unused_data:  # the next member of a multi-member file
                    rest, self._z = self._z.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
                    out += self._z.decompress(rest)
            except zlib.error:
                out, self._done = b"", True
            self._done = self._done or not data
            if out:
                return out
        return b""
