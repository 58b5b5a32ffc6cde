"""Reading product records from JSON Lines and CSV files: the CSV column mapping, line numbers of rows,
rows that cannot be read (reported, the others go on), and files that cannot be read at all."""

import re
from pathlib import Path
from typing import Any

import pytest

from catalog_import.cli.files import InputError, RecordFile, number
from catalog_import.cli.push import Lines


def rows(path: Path, **options: Any) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    with RecordFile(path, **options) as source:
        return [(row.line, row.record, row.error) for row in source]


def malformed(path: Path, **options: Any) -> list[int]:
    """The lines that are not records of the file's format at all."""
    with RecordFile(path, **options) as source:
        return [row.line for row in source if row.malformed]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


class TestJsonLines:
    def test_one_record_per_line_with_its_line_number(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "p.jsonl",
            '\ufeff{"productNumber": "A"}\n\n  \n{"productNumber": "B", "stock": 3}\r\n'
            'not json\n[1, 2]\n{"x": 1}',
        )

        found = rows(path)

        assert found[0] == (1, {"productNumber": "A"}, None)
        assert found[1] == (4, {"productNumber": "B", "stock": 3}, None)
        assert found[2][:2] == (5, None) and "not valid JSON at column 1" in str(found[2][2])
        assert found[3] == (6, None, "not a JSON object (one product record per line)")
        assert found[4] == (7, {"x": 1}, None)
        assert malformed(path) == [5, 6]

    def test_reading_counts_bytes(self, tmp_path: Path) -> None:
        path = write(tmp_path, "p.ndjson", '{"productNumber": "A"}\n' * 3)

        with RecordFile(path) as source:
            assert (source.format, source.size, source.bytes_read) == ("jsonl", path.stat().st_size, 0)
            list(source)
            assert source.bytes_read == source.size

    def test_text_that_is_not_utf8_stops_reading_with_its_line(self, tmp_path: Path) -> None:
        path = tmp_path / "p.jsonl"
        path.write_bytes(b'{"productNumber": "A"}\n{"name": "\xe9t\xe9"}\n')

        with RecordFile(path) as source, pytest.raises(InputError, match="line 2: not UTF-8"):
            list(source)


class TestCsv:
    HEADER = (
        "productNumber,Name,description,active,stock,tax,taxRate,gross,net,currency,price.usd.gross,"
        "price.USD.net,categories,media,properties,variants,customFields"
    )

    def test_a_row_maps_to_a_product_record(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "p.csv",
            f"{self.HEADER}\n"
            'P-1, Shirt ,"Soft, warm",yes,10,Standard rate,19,11.90,10,eur,13,10.92,'
            "Home>Clothing > Shirts|Home>Sale,http://a/1.jpg | http://a/2.jpg  http://a/3.jpg,"
            'Color:Red|Material: Cotton,Size:S|Size:M,"{""season"": ""summer""}"\n',
        )

        [(line, record, error)] = rows(path)

        assert (line, error) == (2, None)
        assert record == {
            "productNumber": "P-1",
            "name": "Shirt",
            "description": "Soft, warm",
            "active": True,
            "stock": 10,
            "tax": {"name": "Standard rate", "taxRate": 19},
            "prices": [
                {"currency": "EUR", "gross": 11.9, "net": 10},
                {"currency": "USD", "gross": 13, "net": 10.92},
            ],
            "categories": [{"path": ["Home", "Clothing", "Shirts"]}, {"path": ["Home", "Sale"]}],
            "media": [{"url": "http://a/1.jpg"}, {"url": "http://a/2.jpg"}, {"url": "http://a/3.jpg"}],
            "properties": [{"group": "Color", "option": "Red"}, {"group": "Material", "option": "Cotton"}],
            "variants": [{"property": "Size", "value": "S"}, {"property": "Size", "value": "M"}],
            "customFields": {"season": "summer"},
        }

    def test_empty_cells_leave_fields_out(self, tmp_path: Path) -> None:
        path = write(tmp_path, "p.csv", f"{self.HEADER}\nP-2,,,,,,,,,,,,,,,,\nP-3,,,0,,Reduced,,,,,,,,,,,\n")

        assert [record for _, record, _ in rows(path)] == [
            {"productNumber": "P-2"},
            {"productNumber": "P-3", "active": False, "tax": {"name": "Reduced"}},
        ]

    def test_variants_managed_by_hand(self, tmp_path: Path) -> None:
        path = write(tmp_path, "p.tsv", "id\tparent\toptions\n0190\tP-1\tSize:S | Color:Red\n")

        [(_, record, _)] = rows(path)

        assert record == {
            "id": "0190",
            "parent": {"productNumber": "P-1"},
            "options": [{"group": "Size", "option": "S"}, {"group": "Color", "option": "Red"}],
        }

    @pytest.mark.parametrize(
        ("cells", "message"),
        [
            ("P,abc,,,,", "stock: 'abc' is not an integer"),
            ("P,,maybe,,,", "active: 'maybe' is not true or false"),
            ("P,1_000,,,,", "stock: '1_000' is not an integer"),
            ("P,,,11.90,,", "gross is given without net"),
            ('P,,,"11,90",9,', "gross: '11,90' is not a number (use a dot for decimals)"),
            ("P,,,1_0,9,", "gross: '1_0' is not a number"),
            ("P,,,,,Home>>Shoes", "categories: 'Home>>Shoes' is not a path of names joined by >"),
        ],
    )
    def test_a_bad_row_is_reported_with_its_line_and_the_others_go_on(
        self, tmp_path: Path, cells: str, message: str
    ) -> None:
        path = write(
            tmp_path, "p.csv", f"productNumber,stock,active,gross,net,categories\n{cells}\nOK,1,,,,\n"
        )

        found = rows(path)

        assert found[0][:2] == (2, None)
        assert message in str(found[0][2])
        assert found[1] == (3, {"productNumber": "OK", "stock": 1}, None)
        assert malformed(path) == []

    @pytest.mark.parametrize(
        ("cells", "message"),
        [
            ("P,1,true,1,1", "5 cells, but the header names 6 columns"),
            ("P,,,11,90,,", "7 cells, but the header names 6 columns"),
            ('P,"open', "not valid CSV: unexpected end of data"),
            ('P,"1"2,,,,', "not valid CSV: ',' expected after '\"'"),
        ],
    )
    def test_a_row_of_another_width_is_malformed(self, tmp_path: Path, cells: str, message: str) -> None:
        path = write(tmp_path, "p.csv", f"productNumber,stock,active,gross,net,categories\n{cells}\n")

        assert rows(path)[0][1:] == (None, message)
        assert malformed(path) == [2]

    def test_more_row_errors(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "p.csv",
            "productNumber,tax,taxRate,currency,properties,customFields\n"
            "A,,7,,,\nB,,,USD,,\nC,,,,Color,\nD,,,,,[1]\n",
        )

        assert [error for _, _, error in rows(path)] == [
            "taxRate is given without a tax (its name)",
            "currency is given without gross and net",
            "properties: 'Color' is not a Name:Value pair",
            "customFields: not a JSON object",
        ]

    def test_line_numbers_count_quoted_line_breaks_and_skip_blank_rows(self, tmp_path: Path) -> None:
        path = write(
            tmp_path, "p.csv", 'productNumber;description\nA;"two\nlines"\n\n;\nB;x\n'.replace("\n", "\r\n")
        )

        found = rows(path, delimiter=";")

        assert [(line, record) for line, record, _ in found] == [
            (2, {"productNumber": "A", "description": "two\r\nlines"}),
            (6, {"productNumber": "B", "description": "x"}),
        ]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "is empty: a CSV file starts with a header row"),
            ("productNumber,colour\n", "unknown column 'colour' (column 2)"),
            ("productNumber,name,NAME\n", "column 'NAME' appears twice"),
            ("name,stock\n", "the header needs a productNumber or an id column"),
            ("productNumber,,name\n", "column 2 of the header has no name"),
        ],
    )
    def test_a_header_that_cannot_be_used_stops_before_anything_is_read(
        self, tmp_path: Path, text: str, message: str
    ) -> None:
        path = write(tmp_path, "p.csv", text)

        with pytest.raises(InputError, match=re.escape(message)):
            RecordFile(path)


class TestOpening:
    def test_the_format_comes_from_the_suffix_or_is_given(self, tmp_path: Path) -> None:
        path = write(tmp_path, "products.txt", '{"productNumber": "A"}\n')

        with pytest.raises(InputError, match="give --format jsonl or --format csv"):
            RecordFile(path)
        assert rows(path, file_format="jsonl") == [(1, {"productNumber": "A"}, None)]

    def test_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match=r"cannot read .*missing\.csv"):
            RecordFile(tmp_path / "missing.csv")


def test_numbers_keep_their_digits() -> None:
    assert number("10", "gross") == 10
    assert number("11.90", "gross") == 11.9
    assert number("1e2", "gross") == 100.0
    assert number("123456789012345.1234", "gross") == "123456789012345.1234"


def test_lines_of_a_push_are_kept_as_runs() -> None:
    lines = Lines([2, 3, 4, 7, 8, 20])

    assert [lines[position] for position in range(6)] == [2, 3, 4, 7, 8, 20]
    assert len(lines._starts) == 3
