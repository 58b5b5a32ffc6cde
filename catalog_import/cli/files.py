"""Product records read from files, for ``catalog-import push``: JSON Lines (one product record per line,
exactly as the API takes it, or a failures file that ``push --failures-file`` wrote) or CSV (one product
per row, columns mapped as ``CSV_COLUMNS_HELP`` tells).

Files are streamed a line at a time, never loaded whole. A row that cannot be made into a record becomes a
``Row`` with an error and its line number, and reading goes on: ``malformed`` when the line is not a record
of the format at all (not JSON, not an object, a CSV row of another width than the header), else a value
that does not fit its column (``stock`` that is not an integer…). A file that cannot be read at all
(missing, not UTF-8, a CSV header naming an unknown column) raises ``InputError``."""

import csv
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson

FORMATS = ("jsonl", "csv")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}

CSV_COLUMNS_HELP = """\
CSV columns (a header row names them, in any order and case; an empty cell leaves the field out, so an
update changes only the cells given):
  productNumber, id        identity (one of them is needed)
  name, description        text
  active                   true/false, yes/no or 1/0
  stock                    an integer
  tax                      the tax by name; with taxRate (a percentage) it is created when missing
  gross, net, currency     one price (currency default EUR; 11.90, a dot for decimals)
  price.USD.gross/.net     a price per currency, as many currencies as there are column pairs
  categories               category paths, names joined by > and paths by |: Home>Shoes|Home>Sale
  media                    picture URLs separated by | or spaces
  properties               Group:Option pairs separated by |: Color:Red|Material:Cotton
  variants                 the configurator, Property:Value pairs: Size:S|Size:M|Color:Red
  parent, options          a variant managed by hand: the parent's productNumber, and Group:Option pairs
  customFields             a JSON object"""

# Canonical column names, by the lower-case name a header may use.
CSV_COLUMNS = {
    name.lower(): name
    for name in (
        "id",
        "productNumber",
        "name",
        "description",
        "active",
        "stock",
        "tax",
        "taxRate",
        "gross",
        "net",
        "currency",
        "categories",
        "media",
        "properties",
        "variants",
        "parent",
        "options",
        "customFields",
    )
}
PRICE_COLUMN = re.compile(r"price\.([a-z]{3})\.(gross|net)")
NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
TRUE, FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


class InputError(Exception):
    """The file cannot be read as records at all; nothing more of it is read."""


class RowError(ValueError):
    """One row cannot be made into a record; it is reported with its line and the others go on."""


class Row:
    """A record of the file and the line it starts on; ``record`` is None and ``error`` says why when the
    row could not be read (``key``: the product number or id the row gives, if it can be told;
    ``malformed``: the line is not a record of the file's format at all)."""

    __slots__ = ("error", "key", "line", "malformed", "record")

    def __init__(
        self,
        line: int,
        record: dict[str, Any] | None,
        error: str | None = None,
        key: str = "",
        *,
        malformed: bool = False,
    ) -> None:
        self.line = line
        self.record = record
        self.error = error
        self.key = key
        self.malformed = malformed


def detect_format(path: Path) -> str:
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise InputError(
            f"cannot tell the format of {path.name} from its name: give --format jsonl or --format csv"
        ) from None


class RecordFile:
    """An open file of product records: iterate over it for ``Row``s. ``size`` and ``bytes_read`` tell how
    far reading got. A CSV header is read and checked on opening."""

    def __init__(self, path: Path, file_format: str | None = None, *, delimiter: str | None = None) -> None:
        self.path = path
        self.format = file_format or detect_format(path)
        self.delimiter = delimiter
        if self.format not in FORMATS:
            raise InputError(f"unknown format {self.format!r}: jsonl or csv")
        try:
            self._file = path.open("rb")
        except OSError as error:
            raise InputError(f"cannot read {path}: {error.strerror or error}") from error
        self.size = os.fstat(self._file.fileno()).st_size
        self.bytes_read = 0
        self._line = 0
        self._mapping: CsvMapping | None = None
        self._rows: Iterator[list[str]] | None = None
        if self.format == "csv":
            try:
                self._open_csv(delimiter or ("\t" if path.suffix.lower() == ".tsv" else ","))
            except BaseException:
                self._file.close()
                raise

    def _open_csv(self, delimiter: str) -> None:
        if len(delimiter) != 1:
            raise InputError("the CSV delimiter must be one character")
        self._rows = csv.reader(self._lines(), delimiter=delimiter, strict=True)
        try:
            header = next(self._rows)
        except StopIteration:
            raise InputError(f"{self.path.name} is empty: a CSV file starts with a header row") from None
        except csv.Error as error:
            raise InputError(f"{self.path.name} line 1: the header cannot be read: {error}") from error
        try:
            self._mapping = CsvMapping(header)
        except InputError as error:
            raise InputError(f"{self.path.name} {error}") from None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def _lines(self) -> Iterator[str]:
        """The file's lines as text, with their line ends (the CSV reader needs them for quoted breaks)."""
        for raw in self._file:
            self._line += 1
            self.bytes_read += len(raw)
            try:
                # A byte order mark (editors on Windows write one) is not part of the first line.
                yield raw.decode("utf-8-sig" if self._line == 1 else "utf-8")
            except UnicodeDecodeError as error:
                message = f"{self.path.name} line {self._line}: not UTF-8 text ({error.reason})"
                raise InputError(message) from error

    def __iter__(self) -> Iterator[Row]:
        return self._csv_rows() if self.format == "csv" else self._json_rows()

    def _json_rows(self) -> Iterator[Row]:
        for text in self._lines():
            if not text.strip():
                continue
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as error:
                yield Row(
                    self._line, None, f"not valid JSON at column {error.colno}: {error.msg}", malformed=True
                )
                continue
            if isinstance(value, dict) and value.keys() >= FAILURE_KEYS:
                yield failure_row(self._line, value)
            elif isinstance(value, dict):
                yield Row(self._line, value)
            else:
                yield Row(self._line, None, "not a JSON object (one product record per line)", malformed=True)

    def _csv_rows(self) -> Iterator[Row]:
        assert self._rows is not None and self._mapping is not None
        while True:
            line = self._line + 1
            try:
                cells = next(self._rows)
            except StopIteration:
                return
            except csv.Error as error:
                yield Row(line, None, f"not valid CSV: {error}", malformed=True)
                continue
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != self._mapping.width:
                message = f"{len(cells)} cells, but the header names {self._mapping.width} columns"
                yield Row(line, None, message, self._mapping.key(cells), malformed=True)
                continue
            try:
                yield Row(line, self._mapping.record(cells))
            except RowError as error:
                yield Row(line, None, str(error), self._mapping.key(cells))


FAILURE_KEYS = {"stage", "details", "record"}
"""A line of a failures file (``push --failures-file``) rather than a product record: it is read as the
record it carries, so that a failures file, corrected or not, can be pushed again as it is."""


def failure_row(line: int, failure: dict[str, Any]) -> Row:
    record = failure["record"]
    if isinstance(record, dict):
        return Row(line, record)
    label = str(failure.get("label") or "")
    stage = failure.get("stage")
    return Row(line, None, f"a failure at {stage} without a record to push again", key=label)


class CsvMapping:
    """Turns the cells of a row into a product record, following the header."""

    def __init__(self, header: list[str]) -> None:
        self.width = len(header)
        self.names: list[str] = []
        # Prices per currency from price.XXX.gross/net columns, in the order of the header.
        self.currencies: list[str] = []
        for position, cell in enumerate(header, start=1):
            key = cell.strip()
            name = CSV_COLUMNS.get(key.lower())
            price = PRICE_COLUMN.fullmatch(key.lower())
            if not key:
                raise InputError(f"line 1: column {position} of the header has no name")
            if price is not None:
                currency = price.group(1).upper()
                name = f"price.{currency}.{price.group(2)}"
                if currency not in self.currencies:
                    self.currencies.append(currency)
            elif name is None:
                raise InputError(
                    f"line 1: unknown column {key!r} (column {position}); known columns: "
                    f"{', '.join(CSV_COLUMNS.values())}, price.<currency>.gross and price.<currency>.net"
                )
            if name in self.names:
                raise InputError(f"line 1: column {key!r} appears twice")
            self.names.append(name)
        if "productNumber" not in self.names and "id" not in self.names:
            raise InputError("line 1: the header needs a productNumber or an id column")

    def key(self, cells: list[str]) -> str:
        """The product number (else the id) a row gives."""
        for name in ("productNumber", "id"):
            if name in self.names and self.names.index(name) < len(cells):
                value = cells[self.names.index(name)].strip()
                if value:
                    return value
        return ""

    def record(self, cells: list[str]) -> dict[str, Any]:
        """The product record of a row of the header's width."""
        values = {name: cell.strip() for name, cell in zip(self.names, cells, strict=True) if cell.strip()}
        record: dict[str, Any] = {
            key: values[key] for key in ("id", "productNumber", "name", "description") if key in values
        }
        if "active" in values:
            record["active"] = boolean(values["active"], "active")
        if "stock" in values:
            record["stock"] = integer(values["stock"], "stock")
        if "tax" in values:
            record["tax"] = {"name": values["tax"]}
            if "taxRate" in values:
                record["tax"]["taxRate"] = number(values["taxRate"], "taxRate")
        elif "taxRate" in values:
            raise RowError("taxRate is given without a tax (its name)")
        prices = self.prices(values)
        if prices:
            record["prices"] = prices
        if "categories" in values:
            record["categories"] = [{"path": category_path(path)} for path in values["categories"].split("|")]
        if "media" in values:
            record["media"] = [{"url": url} for url in re.split(r"[|\s]+", values["media"]) if url]
        if "properties" in values:
            record["properties"] = [
                {"group": group, "option": option}
                for group, option in pairs(values["properties"], "properties")
            ]
        if "variants" in values:
            record["variants"] = [
                {"property": group, "value": value} for group, value in pairs(values["variants"], "variants")
            ]
        if "parent" in values:
            record["parent"] = {"productNumber": values["parent"]}
        if "options" in values:
            record["options"] = [
                {"group": group, "option": option} for group, option in pairs(values["options"], "options")
            ]
        if "customFields" in values:
            record["customFields"] = json_object(values["customFields"], "customFields")
        return record

    def prices(self, values: dict[str, str]) -> list[dict[str, Any]]:
        prices: list[dict[str, Any]] = []
        if "gross" in values or "net" in values:
            currency = values.get("currency", "EUR").upper()
            prices.append(price(currency, values.get("gross"), values.get("net"), "gross", "net"))
        elif "currency" in values:
            raise RowError("currency is given without gross and net")
        for currency in self.currencies:
            gross, net = f"price.{currency}.gross", f"price.{currency}.net"
            if gross in values or net in values:
                if any(given["currency"] == currency for given in prices):
                    raise RowError(f"two prices in {currency}")
                prices.append(price(currency, values.get(gross), values.get(net), gross, net))
        return prices


def price(
    currency: str, gross: str | None, net: str | None, gross_column: str, net_column: str
) -> dict[str, Any]:
    if gross is None:
        raise RowError(f"{net_column} is given without {gross_column}")
    if net is None:
        raise RowError(f"{gross_column} is given without {net_column}")
    return {"currency": currency, "gross": number(gross, gross_column), "net": number(net, net_column)}


def boolean(text: str, column: str) -> bool:
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise RowError(f"{column}: {text!r} is not true or false")


def integer(text: str, column: str) -> int:
    # Digits only: int() would also take 1_000 and digits of other scripts.
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise RowError(f"{column}: {text!r} is not an integer")
    return int(text)


def number(text: str, column: str) -> int | float | str:
    """A decimal number as JSON carries it: an integer, a float that prints back the same, else the
    digits as a string (the API reads numeric strings for amounts, so no precision is lost)."""
    value = Decimal(text) if NUMBER.fullmatch(text) else Decimal("NaN")
    if not value.is_finite():
        hint = " (use a dot for decimals)" if "," in text else ""
        raise RowError(f"{column}: {text!r} is not a number{hint}")
    if value == value.to_integral_value() and "." not in text and "e" not in text.lower():
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def category_path(text: str) -> list[str]:
    path = [name.strip() for name in text.split(">")]
    if not all(path):
        raise RowError(f"categories: {text.strip()!r} is not a path of names joined by >")
    return path


def pairs(text: str, column: str) -> list[tuple[str, str]]:
    found = []
    for part in text.split("|"):
        group, separator, option = part.partition(":")
        if not separator or not group.strip() or not option.strip():
            raise RowError(f"{column}: {part.strip()!r} is not a Name:Value pair")
        found.append((group.strip(), option.strip()))
    return found


def json_object(text: str, column: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise RowError(f"{column}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise RowError(f"{column}: not a JSON object")
    return value
