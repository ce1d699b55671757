"""From a message to a SearchQuery, and the values a result and an explained notice show (no Rasa needed)."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.nlu.extract import extract_entities
from bot.opportunities import conversation as conv
from bot.opportunities.model import FEED_TIMEZONE
from bot.opportunities.search import get_notice, search
from open_opportunities import build_open_store

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)  # a Thursday
BUYERS = conv.buyer_phrases(["City of Toronto – Toronto Water", "Department of National Defence (DND)", "Health Canada"])


def understand(text: str) -> conv.SearchRequest:
    entities = [e.as_rasa() for e in extract_entities(text)]
    return conv.understand(text, entities, NOW, topics=conv.load_topic_codes(), known_buyers=BUYERS)


def test_topic_keywords_are_kept_and_filler_words_dropped():
    query = understand("show me open cybersecurity tenders please").query
    assert query.text == "cybersecurity"
    assert understand("any web development contracts").query.text == "web development"


def test_region_entities_become_region_filters_and_leave_the_keywords():
    query = understand("any cybersecurity contracts in toronto").query
    assert query.regions == ["Toronto"] and query.text == "cybersecurity"
    assert understand("snow removal in the NCR").query.regions == ["National Capital Region"]


def test_category_words_filter_and_consulting_is_searched_as_services():
    assert understand("construction bids").query.categories == ["construction"]
    request = understand("consulting opportunities")
    assert request.query.categories == ["services"] and request.query.text == ""
    # A specific category term is also what to look for.
    assert understand("web development").query.categories == ["services"]


def test_it_maps_to_unspsc_prefixes_from_the_knowledge_table_only_in_capitals():
    query = understand("show me open IT tenders closing this month").query
    assert query.unspsc_prefixes == ["43", "8111"] and query.text == ""
    assert understand("is it open").query.unspsc_prefixes == ()


def test_buyer_names_are_recognised_and_their_city_is_not_a_region():
    query = understand("tenders from the City of Toronto").query
    assert query.buyer == "City of Toronto" and query.regions == [] and query.text == ""
    assert understand("Health Canada consulting").query.buyer == "Health Canada"
    assert understand("anything from DND").query.buyer == "DND"


def test_closing_windows_and_dates_become_closing_bounds_in_toronto_time():
    query = understand("tenders closing this week").query
    assert query.closing_before == dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=FEED_TIMEZONE)
    before = understand("construction bids before march 1").query
    assert before.closing_before == dt.datetime(2027, 3, 1, 23, 59, 59, tzinfo=FEED_TIMEZONE)
    assert before.closing_after is None
    after = understand("bids closing after January 10").query
    assert after.closing_after == dt.datetime(2027, 1, 10, tzinfo=FEED_TIMEZONE)


def test_amounts_become_a_floor_or_a_ceiling():
    assert understand("services over $50k").query.min_value == 50000
    query = understand("services under 100k").query
    assert query.max_value == 100000 and query.min_value is None


def test_keyword_text_cuts_spans_and_filler():
    assert conv.keyword_text("show me snow removal in Toronto", [(24, 31)]) == "snow removal"


def test_the_query_survives_a_slot_round_trip():
    query = understand("construction bids before march 1 in ontario").query
    restored = conv.query_from_dict(conv.query_to_dict(query))
    assert conv.query_to_dict(restored) == conv.query_to_dict(query)
    assert restored.closing_before == query.closing_before and restored.regions == ["Ontario"]


@pytest.fixture
def open_db(tmp_path):
    return build_open_store(tmp_path / "opportunities.db", NOW)


def test_result_values_show_buyer_closing_days_left_and_link(open_db):
    result = search(conv.SearchQuery(text="cybersecurity"), NOW, open_db)
    values = conv.result_values(result.items[0], NOW, 1)
    assert values["title"] == "Cybersecurity assessment services"
    assert values["buyer"] == "Health Canada"
    assert values["closing_date"] == "Sun 29 Nov 2026" and values["closing_time"] == "2:00 PM ET"
    assert values["days_left"] == "3 days left"
    assert values["link"] == "https://canadabuys.canada.ca/en/tender-opportunities/tender-notice/cb-900-00000001"
    assert values["notice_ref"] == "canadabuys:cb-900-00000001"


def test_days_left_counts_calendar_days_in_toronto():
    closing = dt.datetime(2026, 11, 26, 23, 0, tzinfo=FEED_TIMEZONE)
    assert conv.closing_values(closing, NOW)["days_left"] == "closes today"
    assert conv.closing_values(closing + dt.timedelta(days=1), NOW)["days_left"] == "1 day left"


def test_explain_values_answer_what_who_how_and_when(open_db):
    cyber = conv.explain_values(get_notice("canadabuys", "cb-900-00000001", open_db), NOW)
    assert "Facility Security Clearance" in cyber["security"]
    assert cyber["set_aside"] == ""
    assert "CFTA" in cyber["agreements"] and cyber["agreement_count"] == 7
    assert cyber["amended"] is True and cyber["days_left"] == "3 days left"
    assert cyber["method"] == "Competitive - Open bidding"
    web = conv.explain_values(get_notice("canadabuys", "cb-900-00000002", open_db), NOW)
    assert "Indigenous" in web["set_aside"] and web["security"] == ""
    laptops = conv.explain_values(get_notice("canadabuys", "cb-900-00000003", open_db), NOW)
    assert laptops["agreements"] == "" and laptops["what_items"] == "Notebook computers"


def test_paging_values():
    assert conv.page_values(12, False, 5, 5) == {"first": 6, "last": 10, "total": "12"}
    assert conv.has_more(12, 5, 5) and not conv.has_more(12, 10, 2)
    assert conv.page_values(1000, True, 0, 5)["total"] == "1000+"


def test_explaining_a_notice_takes_its_missing_description_line_and_offer_from_the_domain(
        tmp_path, monkeypatch, tracker_factory, dispatcher, domain):
    import dataclasses

    from actions.opportunities import ActionExplainNotice
    from bot.opportunities import store

    db = build_open_store(tmp_path / "opportunities.db", NOW)
    bare = dataclasses.replace(get_notice("canadabuys", "cb-900-00000003", db), reference="cb-900-bare",
                               description_en="", description_fr="")
    with store.open_writer(db) as writer:
        store.load(writer, "canadabuys", [bare], NOW)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    tracker = tracker_factory(latest_message={"text": "/explain_notice", "intent": {"name": "explain_notice"},
                                              "entities": [{"entity": "notice_ref", "value": "canadabuys:cb-900-bare"}]})
    ActionExplainNotice().run(dispatcher, tracker, domain)
    explained = next(m for m in dispatcher.messages if m["response"] == "utter_notice_explained")
    assert explained["description"] == domain["responses"]["utter_notice_no_description"][0]["text"]
    offer = dispatcher.messages[-1]
    assert offer["response"] == "utter_offer_bid_readiness" and not offer["buttons"]  # the domain's buttons
    assert domain["responses"]["utter_offer_bid_readiness"][0]["buttons"][0]["payload"] == "/start_bid_readiness"
