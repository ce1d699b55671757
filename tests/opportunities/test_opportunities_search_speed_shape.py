"""The shape that keeps search fast (no timings here: speed is measured by bench.bench_search).

Region and category filters are bit tests on the slim listings row, a filter-only search is one read of the
covering closing index in result order, and a store in the older layout still answers (from the junction
tables) until a refresh upgrades it in place.
"""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from bot.opportunities import store
from bot.opportunities import search as search_module
from bot.opportunities.model import Opportunity
from bot.opportunities.search import SearchQuery, search
from opportunities_helpers import NOW

REGIONS = ["Ontario", "Quebec", "Canada", "Yukon", "Ottawa", "National Capital Region"]
CATEGORIES = ["goods", "services", "construction"]


def listings() -> list[Opportunity]:
    out = []
    for n in range(60):
        out.append(Opportunity(
            source="test", reference=f"r{n:02d}", title_en=f"{['snow', 'roof', 'cloud'][n % 3]} work {n}",
            closing=NOW + dt.timedelta(days=(n * 7) % 50 - 10, hours=n),
            regions=[REGIONS[n % 6]] + ([REGIONS[(n // 6) % 6]] if n % 4 == 0 else []),
            category=[CATEGORIES[n % 3]] + (["goods"] if n % 5 == 0 else []),
            unspsc=[f"{72 + n % 3}100000"], buyer_type=["federal", "municipal"][n % 2],
            max_value=float(n * 10000) if n % 7 else None))
    return out


QUERIES = [
    SearchQuery(limit=100),
    SearchQuery(regions=["Ontario"], limit=100),
    SearchQuery(regions=["ontario", "Quebec"], include_national=True, limit=100),
    SearchQuery(regions=["Nowhere"], limit=100),
    SearchQuery(categories=["Goods"], regions=["Yukon"], limit=100),
    SearchQuery(categories=["construction", "unknown"], limit=100),
    SearchQuery(text="snow", regions=["Ottawa"], categories=["services", "goods"], limit=100),
    SearchQuery(text="roof", regions=["Canada"], buyer_types=["municipal"], limit=3, offset=2),
    SearchQuery(regions=["Ontario"], unspsc_prefixes=["73"], min_value=50000, limit=100),
    SearchQuery(regions=["Quebec"], closing_before=NOW + dt.timedelta(days=20), include_closed=True, limit=100),
]


def refs(result):
    return (result.total, [o.reference for o in result.items])


@pytest.fixture
def db(db_path):
    with store.open_writer(db_path) as database:
        store.load(database, "test", listings(), NOW)
    return db_path


def junction_answers(db_path):
    """Every query answered with the bits ignored (the junction tables only)."""
    original = store._read_filter_masks
    store._read_filter_masks = lambda conn: None
    try:
        store.reader_connection(db_path)  # force a reopen below
        store._reader(db_path).close()
        return [refs(search(q, NOW, db_path)) for q in QUERIES]
    finally:
        store._read_filter_masks = original
        store._reader(db_path).close()


def test_bits_and_junction_tables_give_the_same_answers(db):
    with_bits = [refs(search(q, NOW, db)) for q in QUERIES]
    assert with_bits == junction_answers(db)
    assert with_bits[3] == (0, [])
    assert with_bits[1][0] > 0 and with_bits[4][0] > 0


def test_values_past_the_last_bit_are_served_by_the_junction_tables(db_path, monkeypatch):
    monkeypatch.setattr(store, "MAX_FILTER_BITS", 2)
    with store.open_writer(db_path) as database:
        store.load(database, "test", listings(), NOW)
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM filter_bits WHERE mask IS NULL").fetchone()[0] > 0
    conn.close()
    assert [refs(search(q, NOW, db_path)) for q in QUERIES] == junction_answers(db_path)


def test_changed_regions_move_the_bits(db):
    changed = listings()[0]
    changed.regions = ["Yukon"]
    with store.open_writer(db) as database:
        store.load(database, "test", [changed], NOW + dt.timedelta(hours=1))
    yukon = [o.reference for o in search(SearchQuery(regions=["Yukon"], limit=100, include_closed=True), NOW, db).items]
    ontario = [o.reference for o in search(SearchQuery(regions=["Ontario"], limit=100, include_closed=True), NOW,
                                           db).items]
    assert "r00" in yukon and "r00" not in ontario


def test_filter_only_search_reads_the_covering_index_in_order(db):
    conn, masks = store.reader_state(db)
    query = SearchQuery(regions=["Ontario"], categories=["goods"], buyer_types=["federal"],
                        closing_before=NOW + dt.timedelta(days=30))
    where, params = search_module._filters(query, NOW, masks=masks)
    source, where_sql, args = search_module._sql_parts("", where, params)
    plan = " | ".join(r[3] for r in conn.execute(
        f"EXPLAIN QUERY PLAN SELECT o.id FROM {source}{where_sql} ORDER BY o.closing_ts, o.id LIMIT 5", args))
    assert "COVERING INDEX idx_listings_closing" in plan, plan
    assert "TEMP B-TREE" not in plan and "opportunity_regions" not in plan, plan


def downgrade_to_first_layout(db_path):
    """The store as version 1 wrote it: no bit columns, no filter_bits, the old listings index."""
    conn = sqlite3.connect(db_path)
    conn.executescript(
        """
        DROP INDEX idx_listings_closing;
        DROP TABLE filter_bits;
        ALTER TABLE listings DROP COLUMN region_bits;
        ALTER TABLE listings DROP COLUMN category_bits;
        CREATE INDEX idx_listings_open ON listings (closing_ts, buyer_type, source, min_value, max_value);
        UPDATE meta SET value = '1' WHERE key = 'schema_version';
        """
    )
    conn.close()


def test_an_old_layout_store_still_answers_and_the_next_refresh_upgrades_it(db):
    expected = [refs(search(q, NOW, db)) for q in QUERIES]
    downgrade_to_first_layout(db)
    assert [refs(search(q, NOW, db)) for q in QUERIES] == expected  # served from the junction tables
    assert store.reader_state(db)[1] is None
    with store.open_writer(db) as database:  # what every refresh does first
        store.load(database, "test", listings()[:5], NOW)
    conn, masks = store.reader_state(db)
    assert masks is not None and masks["region"]["ontario"]
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
        store.SCHEMA_VERSION)
    assert [refs(search(q, NOW, db)) for q in QUERIES] == expected


def test_ranking_window_pages_through_every_match_once(db, monkeypatch):
    # A tier larger than the window: the newest matches are ranked, the others follow newest first, and
    # paging neither repeats nor loses a notice.
    monkeypatch.setattr(search_module, "RANK_WINDOW", 4)
    everything = search(SearchQuery(text="snow", limit=100), NOW, db)
    assert len(everything.items) == everything.total > 2 * 4
    pages = [search(SearchQuery(text="snow", limit=3, offset=n), NOW, db) for n in range(0, everything.total + 3, 3)]
    paged = [o.reference for page in pages for o in page.items]
    assert paged == [o.reference for o in everything.items]
    monkeypatch.setattr(search_module, "RANK_WINDOW", 1000)  # the whole tier fits: the same notices
    assert {o.reference for o in search(SearchQuery(text="snow", limit=100), NOW, db).items} == set(paged)


def test_buyer_names_read_an_index_once_per_store_version(db):
    conn = store.reader_connection(db)
    plan = " | ".join(r[3] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT DISTINCT buyer FROM opportunities WHERE buyer != ''"))
    assert "idx_opportunities_buyer" in plan, plan
    assert search_module.buyer_names(db) == ()  # the fixture's listings name no buyer
    extra = Opportunity(source="test", reference="new-buyer", title_en="snow work", buyer="City of Kingston",
                        closing=NOW + dt.timedelta(days=3))
    with store.open_writer(db) as database:  # a refresh swaps the file: the remembered names are dropped
        store.load(database, "test", [extra], NOW)
    assert search_module.buyer_names(db) == ("City of Kingston",)


TEXT_QUERIES = [SearchQuery(text=word, limit=100) for word in ("snow", "roof work", "cloud", "work", "nothing here")] + [
    SearchQuery(text="snow", regions=["Ontario"], limit=4, offset=2),
    SearchQuery(text="roof", categories=["goods"], include_closed=True, limit=100),
]


def main_index_answers(db_path):
    """Every text query answered with the title tier read from the main index (as a store before layout 3)."""
    store._reader(db_path).connection()
    original = store.reader_has_title_index
    search_module.reader_has_title_index = lambda path=None: False
    try:
        return [refs(search(q, NOW, db_path)) for q in TEXT_QUERIES]
    finally:
        search_module.reader_has_title_index = original


def same_notices(answers):
    """(total, set of refs) of full-page answers: the title index ranks titles by their own length, the main
    index by the whole notice's, so ties among title matches may break in another order."""
    return [(total, set(found)) if query.offset == 0 else total for query, (total, found) in zip(TEXT_QUERIES, answers)]


def test_title_index_gives_the_main_index_answers(db):
    assert store.reader_has_title_index(db)
    assert same_notices([refs(search(q, NOW, db)) for q in TEXT_QUERIES]) == same_notices(main_index_answers(db))


def test_title_index_follows_amended_titles(db):
    changed = listings()[1]
    changed.title_en = "bridge inspection"
    with store.open_writer(db) as database:
        store.load(database, "test", [changed], NOW)
    conn = store.reader_connection(db)
    assert conn.execute(f"SELECT rowid FROM {store.TITLE_FTS} WHERE {store.TITLE_FTS} MATCH 'bridge'").fetchall()
    roof = conn.execute(f"SELECT rowid FROM {store.TITLE_FTS} WHERE {store.TITLE_FTS} MATCH 'roof'").fetchall()
    changed_id = conn.execute("SELECT id FROM opportunities WHERE reference = 'r01'").fetchone()[0]
    assert roof and changed_id not in {r[0] for r in roof}  # the old title's words are gone from the index
    assert [o.reference for o in search(SearchQuery(text="bridge", include_closed=True), NOW, db).items] == ["r01"]


def test_a_store_without_the_title_index_gets_it_at_the_next_refresh(db):
    expected = [refs(search(q, NOW, db)) for q in TEXT_QUERIES]
    conn = sqlite3.connect(db)
    conn.executescript(
        f"""
        DROP TRIGGER opportunity_titles_ai; DROP TRIGGER opportunity_titles_ad; DROP TRIGGER opportunity_titles_au;
        DROP TABLE {store.TITLE_FTS};
        UPDATE meta SET value = '2' WHERE key = 'schema_version';
        """
    )
    conn.close()
    assert not store.reader_has_title_index(db)
    assert same_notices([refs(search(q, NOW, db)) for q in TEXT_QUERIES]) == same_notices(expected)  # main index
    with store.open_writer(db):  # what every refresh does first
        pass
    assert store.reader_has_title_index(db)
    indexed = store.reader_connection(db).execute(
        f"SELECT count(*) FROM {store.TITLE_FTS} WHERE {store.TITLE_FTS} MATCH 'work'").fetchone()[0]
    assert indexed == len(listings())
    assert [refs(search(q, NOW, db)) for q in TEXT_QUERIES] == expected
