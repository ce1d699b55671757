"""Parsing the real CanadaBuys and Toronto samples byte-for-byte, and generic feeds through a mapping."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import pytest

from bot import settings
from bot.opportunities.model import FEED_TIMEZONE, FeedFormatError, Opportunity, RowError, normalize_province
from bot.opportunities.sources import get_parser, open_text
from bot.opportunities.sources.generic import Mapping, MappingError, load_mapping
from opportunities_helpers import (
    CANADABUYS_SAMPLE,
    FIXTURES,
    TORONTO_SAMPLE,
    canadabuys_bytes,
    read_canadabuys_rows,
)

EXAMPLE_MAPPING = settings.PROJECT_ROOT / "feeds" / "mappings" / "example-municipal.yml"


def parse_file(fmt, path, **options):
    with open_text(path) as stream:
        return list(get_parser(fmt)(stream, **options))


def by_reference(items):
    return {i.reference: i for i in items if isinstance(i, Opportunity)}


def test_bundled_samples_are_the_published_files_byte_for_byte():
    # Checksums from /work/shared/data/SHA256SUMS: the snapshot must not be "cleaned up" by an editor or git.
    assert hashlib.sha256(CANADABUYS_SAMPLE.read_bytes()).hexdigest() == (
        "d2f2e3213a6bcc49cff014fdc06d4924209d2c45b783756e531b20fbb95c1edd")
    assert hashlib.sha256(TORONTO_SAMPLE.read_bytes()).hexdigest() == (
        "6c8a0e3d3b0ccd85c8c206eb622570862419c9e5822d834c629cfff56219d7f7")
    raw = CANADABUYS_SAMPLE.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf\"title-titre-eng\"") and b"\r\n" in raw


def test_canadabuys_sample_parses_every_notice():
    items = parse_file("canadabuys", CANADABUYS_SAMPLE)
    assert [i for i in items if isinstance(i, RowError)] == []
    assert len(items) == 17
    assert all(o.buyer_type == "federal" and o.source == "canadabuys" for o in items)
    assert all(o.status == "open" for o in items)


def test_canadabuys_awkward_cells():
    notices = by_reference(parse_file("canadabuys", CANADABUYS_SAMPLE))
    courier = notices["cb-120-98313427"]
    # The BOM is not part of the first column's name: the title is found.
    assert courier.title_en == "Weekly Courier Services - Hospital Operations"
    # French kept alongside English.
    assert courier.title_fr == "Services de messagerie hebdomadaires - Fonctionnement des hôpitaux"
    assert courier.description_fr.startswith("Un service de messagerie doit fournir toute la main-d'œuvre")
    # `*`-prefixed multi-valued cell with embedded newlines.
    assert courier.unspsc == ["78101809", "78102200", "78102203", "78102205", "80141800"]
    assert courier.unspsc_descriptions[0] == "Road transport of letters and parcels"
    assert len(courier.unspsc_descriptions) == 5
    assert courier.category == ["services"]
    assert courier.regions == ["Canada", "Manitoba"]
    assert courier.trade_agreements[0] == "Canada-Colombia Free Trade Agreement"
    # Column with the misspelled French half (nomEntitContractante) is still the buyer.
    assert courier.buyer == "Department of Indigenous Services (ISC)"
    # No zone in the feed: America/Toronto wall-clock time (EST in January).
    assert courier.closing == dt.datetime(2026, 1, 19, 17, 0, tzinfo=FEED_TIMEZONE)
    assert courier.closing.utcoffset() == dt.timedelta(hours=-5)
    assert courier.published == dt.date(2025, 12, 30)
    assert courier.amendment_number == "000"
    assert courier.contact.email == "geordin.crosbie@sac-isc.gc.ca"
    assert len(courier.attachments) == 2 and all(a.startswith("https://canadabuys") for a in courier.attachments)

    ths = notices["cb-133-61948591"]
    # CRLF line ends inside a quoted cell survive as line breaks, not as record ends.
    assert "Temporary Help Services Requirement\n\nThis requirement is for" in ths.description_en
    assert ths.regions == ["National Capital Region"]
    assert {o.reference for o in notices.values() if "construction" in o.category} == {
        "WS5496297033-Doc5497304668", "WS5460663506-Doc5502122825"}


def test_canadabuys_columns_are_found_by_english_key_not_full_header():
    header, rows = read_canadabuys_rows()
    position = header.index("contractingEntityName-nomEntitContractante-eng")
    header[position] = "contractingEntityName-nomEntiteContractante-eng"  # the spelling fixed upstream one day
    items = list(get_parser("canadabuys")(io.StringIO(canadabuys_bytes(header, rows).decode("utf-8-sig"))))
    assert by_reference(items)["cb-120-98313427"].buyer == "Department of Indigenous Services (ISC)"


def test_canadabuys_missing_required_column_rejects_the_feed():
    header, rows = read_canadabuys_rows()
    header[header.index("tenderClosingDate-appelOffresDateCloture")] = "closingDate-renamed"
    stream = io.StringIO(canadabuys_bytes(header, rows).decode("utf-8-sig"))
    with pytest.raises(FeedFormatError, match="tenderclosingdate"):
        list(get_parser("canadabuys")(stream))


def test_canadabuys_bad_rows_are_counted_with_their_line_numbers():
    header, rows = read_canadabuys_rows()
    rows[2][header.index("tenderClosingDate-appelOffresDateCloture")] = "next Tuesday"
    rows[4][header.index("referenceNumber-numeroReference")] = ""
    data = canadabuys_bytes(header, rows).decode("utf-8-sig")
    # The physical line each record starts on, counting the embedded newlines of earlier records.
    text_lines = data.split("\r\n")
    expected = []
    for ref_row in (rows[2], rows[4]):
        title = '"' + ref_row[0].split("\n")[0]
        expected.append(next(n for n, line in enumerate(data.splitlines(), 1) if line.startswith(title)))
    items = list(get_parser("canadabuys")(io.StringIO(data, newline="")))
    errors = [i for i in items if isinstance(i, RowError)]
    assert [e.line for e in errors] == expected
    assert "next Tuesday" in errors[0].message
    assert len([i for i in items if isinstance(i, Opportunity)]) == 15
    assert text_lines  # the sample really is CRLF-separated


def test_canadabuys_short_row_is_a_row_error_not_a_crash():
    header, rows = read_canadabuys_rows()
    data = canadabuys_bytes(header, rows[:2]).decode("utf-8-sig") + '"only","three","cells"\r\n'
    items = list(get_parser("canadabuys")(io.StringIO(data, newline="")))
    assert isinstance(items[-1], RowError) and "expected 67 fields, found 3" in items[-1].message
    assert len(items) == 3


def test_toronto_sample():
    items = parse_file("toronto", TORONTO_SAMPLE)
    assert not [i for i in items if isinstance(i, RowError)]
    assert len(items) == 917
    first = items[0]
    assert first.reference == "9117105139" and first.method == "RFP"
    assert first.title_en.startswith("Consulting Engineering Services for the Design Development")
    assert first.buyer == "City of Toronto – Parks, Forestry and Recreation"
    assert first.buyer_type == "municipal"
    assert first.category == ["services"]
    assert first.regions[:2] == ["Toronto", "Ontario"]
    # A bare deadline date stays open until the end of that day in Toronto.
    assert first.closing == dt.datetime(2010, 11, 24, 23, 59, 59, tzinfo=FEED_TIMEZONE)
    assert first.contact.email == "supplychain@toronto.ca"
    # Rows without a document number are kept apart by their datastore id.
    assert "row-107" in by_reference(items)
    categories = {tuple(o.category) for o in items}
    assert ("goods", "services") in categories and ("construction",) in categories


def test_toronto_missing_column_rejects_feed():
    text = TORONTO_SAMPLE.read_text(encoding="utf-8").replace("Submission Deadline", "Deadline", 1)
    with pytest.raises(FeedFormatError, match="submissiondeadline"):
        list(get_parser("toronto")(io.StringIO(text, newline="")))


def test_generic_csv_through_the_example_mapping():
    items = parse_file("generic", FIXTURES / "generic-municipal.csv", source="example",
                       mapping=load_mapping(EXAMPLE_MAPPING))
    good = by_reference(items)
    errors = [i for i in items if isinstance(i, RowError)]
    assert [e.line for e in errors] == [4]  # the first record spans lines 2-3
    plow = good["EX-2026-001"]
    assert plow.title_en == "Snow plowing of municipal parking lots"
    assert plow.description_en == "Winter maintenance of 12 lots.\nIncludes salting."
    assert plow.closing == dt.datetime(2026, 2, 15, 14, 0, tzinfo=FEED_TIMEZONE)
    assert plow.category == ["services"] and plow.regions == ["Ottawa", "Ontario"]
    assert plow.max_value == 85000.0 and plow.buyer == "Example Municipality" and plow.buyer_type == "municipal"
    roof = good["EX-2026-003"]
    assert roof.regions == ["Ontario"]  # mapping default when the cell is empty
    assert roof.category == ["construction"] and roof.max_value == 1200000.0


def test_generic_json_records_at_a_path():
    mapping = Mapping.from_dict({
        "format": "json", "records": "result.records",
        "defaults": {"buyer_type": "bps", "buyer": "Example Hospital"},
        "columns": {"reference": "id", "title_en": "name", "closing": "closes", "category": "kinds",
                    "regions": "where"},
    })
    document = {"result": {"records": [
        {"id": 7, "name": "MRI service contract", "closes": "2026-04-01T12:00:00", "kinds": ["Services"],
         "where": "ON"},
        {"id": 8, "name": "No closing"},
        "not an object",
    ]}}
    items = list(get_parser("generic")(io.StringIO(json.dumps(document)), mapping=mapping, source="hospital"))
    assert isinstance(items[0], Opportunity) and items[0].reference == "7"
    assert items[0].regions == ["Ontario"] and items[0].buyer_type == "bps" and items[0].category == ["services"]
    assert items[1].closing is None
    assert isinstance(items[2], RowError) and items[2].line == 3


def test_generic_mapping_errors_are_reported():
    with pytest.raises(MappingError, match="closing"):
        Mapping.from_dict({"columns": {"reference": "a", "title_en": "b"}})
    with pytest.raises(MappingError, match="unknown field"):
        Mapping.from_dict({"columns": {"reference": "a", "title_en": "b", "closing": "c", "colour": "d"}})
    mapping = Mapping.from_dict({"columns": {"reference": "Ref", "title_en": "Title", "closing": "Due"}})
    with pytest.raises(FeedFormatError, match="Due"):
        list(get_parser("generic")(io.StringIO("Ref,Title,Closing\n1,x,2026-01-01\n"), mapping=mapping))


@pytest.mark.parametrize("raw,expected", [("ON", "Ontario"), ("Québec", "Quebec"), ("Quebec", "Quebec"),
                                          (" BC", "British Columbia"), ("C.-B", "British Columbia")])
def test_province_spellings(raw, expected):
    assert normalize_province(raw) == expected
