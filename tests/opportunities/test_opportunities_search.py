"""search(): filters, ordering, paging, and user text that must never break FTS5."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st

from bot.opportunities import store
from bot.opportunities.model import FEED_TIMEZONE, Opportunity
from bot.opportunities.search import SearchQuery, fts_expression, search, tokenize
from opportunities_helpers import NOW


def opp(ref, title, days, **fields) -> Opportunity:
    return Opportunity(source=fields.pop("source", "test"), reference=ref, title_en=title,
                       closing=NOW + dt.timedelta(days=days), **fields)


LISTINGS = [
    opp("snow-1", "Snow removal services for parking lots", 10, category=["services"],
        regions=["Ottawa", "Ontario"], buyer="City of Ottawa", buyer_type="municipal", unspsc=["72102900"]),
    opp("snow-2", "Winter maintenance", 3, description_en="Snow removal and salting of roads", category=["services"],
        regions=["Toronto", "Ontario"], buyer="City of Toronto – Transportation Services", buyer_type="municipal"),
    opp("snow-3", "Snow removal equipment", 20, category=["goods"], regions=["Canada"],
        buyer="Department of National Defence (DND)", buyer_type="federal", unspsc=["22101500"]),
    opp("old-snow", "Snow removal services 2024", -5, category=["services"], regions=["Ontario"],
        buyer="City of Ottawa", buyer_type="municipal"),
    opp("roof", "Arena roof replacement", 30, category=["construction"], regions=["Ontario"],
        buyer="City of Ottawa", buyer_type="municipal", unspsc=["72152600"], max_value=900000.0),
    opp("it", "Cloud hosting services", 7, category=["services"], regions=["National Capital Region"],
        buyer="Shared Services Canada (SSC)", buyer_type="federal", unspsc=["81112000"],
        title_fr="Services d'hébergement infonuagique", min_value=2_000_000.0, max_value=5_000_000.0),
    opp("elec", "Electrical upgrades", 12, category=["construction"], regions=["Quebec"],
        title_fr="Travaux d'électricité", buyer="Public Services and Procurement Canada (PSPC)",
        buyer_type="federal"),
] + [opp(f"page-{n:02d}", f"Janitorial services lot {n}", n + 1, category=["services"], regions=["Ontario"],
         buyer="Ontario Health", buyer_type="bps") for n in range(12)]


@pytest.fixture
def db(db_path):
    with store.open_writer(db_path) as database:
        store.load(database, "test", list(LISTINGS), NOW)
    return db_path


def refs(result):
    return [o.reference for o in result.items]


def test_no_store_yet_is_reported_not_raised(db_path):
    result = search(SearchQuery(text="snow"), NOW, db_path)
    assert result.total == 0 and result.available is False


def test_text_finds_open_only_ranked_by_relevance_then_closing(db):
    result = search(SearchQuery(text="snow removal", limit=10), NOW, db)
    assert result.match == "all"
    assert "old-snow" not in refs(result)  # closed before NOW
    assert set(refs(result)) == {"snow-1", "snow-2", "snow-3"}
    # Title matches outrank a description-only match.
    assert refs(result)[-1] == "snow-2"
    # Equal relevance (same title words): the sooner closing comes first.
    tied = search(SearchQuery(text="janitorial", limit=3), NOW, db)
    assert refs(tied) == ["page-00", "page-01", "page-02"]


def test_closed_included_on_request(db):
    result = search(SearchQuery(text="snow removal", include_closed=True, limit=10), NOW, db)
    assert "old-snow" in refs(result) and result.total == 4


def test_no_text_sorts_by_closing(db):
    result = search(SearchQuery(limit=3), NOW, db)
    assert refs(result) == ["page-00", "page-01", "snow-2"]
    assert result.total == len(LISTINGS) - 1


def test_category_filter(db):
    result = search(SearchQuery(categories=["construction"], limit=10), NOW, db)
    assert set(refs(result)) == {"roof", "elec"}
    both = search(SearchQuery(text="snow", categories=["Goods"], limit=10), NOW, db)
    assert refs(both) == ["snow-3"]


def test_region_filter_and_national(db):
    ontario = search(SearchQuery(text="snow", regions=["Ontario"], limit=10), NOW, db)
    assert set(refs(ontario)) == {"snow-1", "snow-2"}
    national = search(SearchQuery(text="snow", regions=["ontario"], include_national=True, limit=10), NOW, db)
    assert set(refs(national)) == {"snow-1", "snow-2", "snow-3"}
    ncr = search(SearchQuery(regions=["National Capital Region"]), NOW, db)
    assert refs(ncr) == ["it"]


def test_buyer_and_buyer_type_filters(db):
    assert set(refs(search(SearchQuery(buyer="ottawa", limit=10), NOW, db))) == {"snow-1", "roof"}
    assert refs(search(SearchQuery(text="snow", buyer="DND"), NOW, db)) == ["snow-3"]
    federal = search(SearchQuery(buyer_types=["federal"], limit=10), NOW, db)
    assert set(refs(federal)) == {"snow-3", "it", "elec"}
    assert search(SearchQuery(buyer_types=["bps"]), NOW, db).total == 12


def test_unspsc_prefix_filter(db):
    assert set(refs(search(SearchQuery(unspsc_prefixes=["72"], limit=10), NOW, db))) == {"snow-1", "roof"}
    assert refs(search(SearchQuery(unspsc_prefixes=["8111"]), NOW, db)) == ["it"]


def test_closing_window(db):
    query = SearchQuery(closing_after=NOW + dt.timedelta(days=9), closing_before=NOW + dt.timedelta(days=12),
                        limit=10)
    result = search(query, NOW, db)
    assert set(refs(result)) == {"snow-1", "elec", "page-08", "page-09", "page-10", "page-11"}
    assert all(NOW + dt.timedelta(days=9) <= o.closing <= NOW + dt.timedelta(days=12) for o in result.items)


def test_value_filter_keeps_unknown_values(db):
    small = search(SearchQuery(text="services", max_value=1_000_000, limit=50), NOW, db)
    assert "it" not in refs(small) and "snow-1" in refs(small)
    big = search(SearchQuery(min_value=1_000_000, categories=["construction"], limit=10), NOW, db)
    assert refs(big) == ["elec"]  # roof's maximum is 900k; elec's value is unknown


def test_paging(db):
    first = search(SearchQuery(text="janitorial", limit=5, offset=0), NOW, db)
    second = search(SearchQuery(text="janitorial", limit=5, offset=5), NOW, db)
    last = search(SearchQuery(text="janitorial", limit=5, offset=10), NOW, db)
    beyond = search(SearchQuery(text="janitorial", limit=5, offset=50), NOW, db)
    assert first.total == second.total == last.total == beyond.total == 12
    pages = refs(first) + refs(second) + refs(last)
    assert pages == [f"page-{n:02d}" for n in range(12)]
    assert beyond.items == []
    plain = search(SearchQuery(buyer_types=["bps"], limit=5, offset=10), NOW, db)
    assert refs(plain) == ["page-10", "page-11"] and plain.total == 12


def test_french_and_accents(db):
    assert refs(search(SearchQuery(text="électricité"), NOW, db)) == ["elec"]
    assert refs(search(SearchQuery(text="electricite"), NOW, db)) == ["elec"]
    assert refs(search(SearchQuery(text="hébergement"), NOW, db)) == ["it"]


def test_any_word_fallback(db):
    result = search(SearchQuery(text="snow removal for the zeppelin hangar", limit=10), NOW, db)
    assert result.match == "any" and set(refs(result)) >= {"snow-1", "snow-2", "snow-3"}
    none = search(SearchQuery(text="zeppelin"), NOW, db)
    assert none.total == 0 and none.items == []


def test_returned_items_are_full_records(db):
    item = search(SearchQuery(text="cloud hosting"), NOW, db).items[0]
    assert item.title_fr == "Services d'hébergement infonuagique" and item.regions == ["National Capital Region"]
    assert item.closing.tzinfo is not None and item.closing.utcoffset() == (NOW + dt.timedelta(days=7)).astimezone(
        FEED_TIMEZONE).utcoffset()


HOSTILE = ['"', '""', "*", "snow*", "NEAR(snow removal", "snow OR", "OR OR OR", "(((", ")", "snow AND (",
           "title_en: snow", "-snow", "^snow", "😀❄️", "snow \x00 removal", "'; DROP TABLE opportunities; --",
           "NOT", "{title_en}: x", "a" * 5000]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_never_raises(db, text):
    result = search(SearchQuery(text=text), NOW, db)
    assert result.total >= 0
    assert search(SearchQuery(), NOW, db).total == len(LISTINGS) - 1  # the table survived


def test_hostile_snow_queries_still_find_snow(db):
    for text in ['"snow', "snow*", "NEAR(snow", "(snow))", "❄️ snow ❄️"]:
        assert "snow-1" in refs(search(SearchQuery(text=text, limit=10), NOW, db)), text


@hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=80), buyer=st.text(max_size=20))
def test_any_text_is_safe(db, text, buyer):
    tokens = tokenize(text)
    expression = fts_expression(tokens)
    assert expression.count('"') == 2 * len(tokens)
    result = search(SearchQuery(text=text, buyer=buyer, limit=3), NOW, db)
    assert 0 <= len(result.items) <= 3 and result.total >= len(result.items)


def test_naive_datetimes_are_refused(db):
    with pytest.raises(ValueError):
        search(SearchQuery(), dt.datetime(2026, 1, 1), db)


def test_title_matches_come_before_description_matches_across_pages(db):
    # snow-2 has the words only in its description; it closes soonest but must come after the title matches.
    pages = [search(SearchQuery(text="snow removal", limit=1, offset=n), NOW, db) for n in range(4)]
    assert [refs(p) for p in pages] == [["snow-1"], ["snow-3"], ["snow-2"], []] or \
        [refs(p) for p in pages] == [["snow-3"], ["snow-1"], ["snow-2"], []]
    assert all(p.total == 3 for p in pages)


def test_total_is_capped_and_says_so(db, monkeypatch):
    import bot.opportunities.search as search_module

    monkeypatch.setattr(search_module, "COUNT_CAP", 5)
    result = search(SearchQuery(text="janitorial", limit=3), NOW, db)
    assert result.total == 5 and result.total_capped and len(result.items) == 3
    exact = search(SearchQuery(text="snow removal"), NOW, db)
    assert exact.total == 3 and not exact.total_capped
