"""Reading an import file (REC-5): UTF-8 with or without BOM, delimiter sniffed, streamed row by
row, and the header mapped to record fields by name (with synonyms) or by an explicit mapping.

Row numbers are those a spreadsheet shows: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import BadRequest

SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")
NOT_UTF8 = "The file is not UTF-8 text{where}. Save it as 'CSV UTF-8' and import it again."
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def header_key(text: str) -> str:
    """A header compared case-, space- and punctuation-insensitively: 'E-mail' → 'email'."""
    return re.sub(r"[^a-z0-9]", "", text.strip().lower())


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


def sniff_delimiter(first_line: str) -> str:
    """The delimiter of a header line: the most frequent of comma, semicolon and tab."""
    counts = {d: _count_outside_quotes(first_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _decode_sample(sample: bytes) -> str:
    if sample.startswith(_UTF16_BOMS):
        raise BadRequest(NOT_UTF8.format(where=" (it is UTF-16)"), field="file")
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        return decoder.decode(sample, final=False)  # a character cut at the end is not an error
    except UnicodeDecodeError as exc:
        raise BadRequest(NOT_UTF8.format(where=f" (byte {exc.start + 1})"), field="file") from None


class CsvSource:
    """A CSV file opened for streaming: `header`, then `rows()`; `bytes_read` tells progress."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.size = os.path.getsize(path)
        self._raw = open(path, "rb")  # noqa: SIM115  (closed by close())
        try:
            text = _decode_sample(self._raw.read(SNIFF_BYTES))
            self.delimiter = sniff_delimiter(text.splitlines()[0] if text else "")
            self._raw.seek(0)
            self._text = io.TextIOWrapper(self._raw, encoding="utf-8-sig", newline="")
            self._reader = csv.reader(self._text, delimiter=self.delimiter)
            self.header = [cell.strip() for cell in self._next_record() or []]
        except BaseException:
            self._raw.close()
            raise
        if not any(self.header):
            self.close()
            raise BadRequest("The file is empty: the first row must name the columns.", "file")
        self.row_number = 1

    def _next_record(self) -> list[str] | None:
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise BadRequest(
                NOT_UTF8.format(where=f" (near row {getattr(self, 'row_number', 0) + 1})"), "file"
            ) from None
        except csv.Error as exc:
            raise BadRequest(
                f"Row {getattr(self, 'row_number', 0) + 1} cannot be read as CSV: {exc}.", "file"
            ) from None

    @property
    def bytes_read(self) -> int:
        """How far into the file the reader is (read-ahead included), in bytes."""
        return self._raw.tell() if not self._raw.closed else self.size

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number, cells) for every non-blank data row, read as needed."""
        while (record := self._next_record()) is not None:
            self.row_number += 1
            if any(cell.strip() for cell in record):
                yield self.row_number, record

    def close(self) -> None:
        """Release the file."""
        self._raw.close()

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ColumnMap:
    """Which file column feeds which field; `ignored` lists headers that feed nothing."""

    columns: list[tuple[int, str, str]] = field(default_factory=list)  # (index, header, field)
    ignored: list[str] = field(default_factory=list)

    def position_of(self, target: str | None) -> int:
        """The file position of a field's column (len(columns) for none: sorts last)."""
        return next((i for i, _, f in self.columns if f == target), len(self.columns))

    def header_of(self, target: str) -> str | None:
        """The file's header for a field (to name the column in an error report)."""
        return next((h for _, h, f in self.columns if f == target), None)


def _check_target(target: str, synonyms: dict[str, tuple[str, ...]]) -> str:
    target = target.strip()
    if target.startswith("properties.") and re.fullmatch(r"properties\.[A-Za-z0-9_]{1,64}", target):
        return target
    if target not in synonyms:
        names = ", ".join([*synonyms, "properties.<name>"])
        raise BadRequest(f"Unknown field {target!r} in the mapping; use one of {names}.", "mapping")
    return target


def map_columns(
    header: list[str],
    synonyms: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    overrides: dict[str, str] | None = None,
) -> ColumnMap:
    """Map header cells to fields: `overrides` ({header: field or ""}) first, then synonyms."""
    by_key = {header_key(name): name for name in synonyms}
    for name, words in synonyms.items():
        by_key.update({header_key(word): name for word in words})
    given = {header_key(h): (h, t) for h, t in (overrides or {}).items()}
    keys = [header_key(h) for h in header]
    for key, (text, _) in given.items():
        if key not in keys:
            raise BadRequest(
                f"The mapping names a column {text!r} the file does not have.", "mapping"
            )
    result, taken = ColumnMap(), {}
    for index, (text, key) in enumerate(zip(header, keys, strict=True)):
        if key in given:
            target = given[key][1].strip()
            target = _check_target(target, synonyms) if target else ""
        else:
            target = by_key.get(key, "")
        if not target:
            result.ignored.append(text)
            continue
        if target in taken:
            raise BadRequest(
                f"Columns {taken[target]!r} and {text!r} both map to {target}; map one of them "
                f'elsewhere or ignore it ("{text}=").',
                "mapping",
            )
        taken[target] = text
        result.columns.append((index, text, target))
    missing = [name for name in required if name not in taken]
    if missing:
        raise BadRequest(
            f"No column maps to {', '.join(missing)}; name one in the mapping "
            f'(e.g. "Your Column={missing[0]}").',
            "mapping",
        )
    return result
