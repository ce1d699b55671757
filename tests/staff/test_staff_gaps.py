"""Knowledge gaps: which unanswered questions are picked up, how they group, stable keys, the handled flag
persisted in staff.db, and the HTML with one form per group."""
from __future__ import annotations

import datetime as dt
import re
import sqlite3

import pytest

from bot.staff import gaps
from staff_helpers import (config_fallback_threshold, BEFORE_RANGE_QUESTION, FALLBACK_THRESHOLD, FORM_ANSWER, GIBBERISH, GRANTS, PERIOD, SNOW,
                           WEATHER, known_store)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory) -> str:
    return known_store(tmp_path_factory.mktemp("tracker") / "tracker.db")


@pytest.fixture
def state_db(tmp_path):
    return tmp_path / "data" / "staff.db"


def groups_by_texts(groups):
    return {frozenset(m.text for m in g.messages): g for g in groups}


def test_unanswered_questions_are_grouped_by_similarity(store_url, state_db):
    groups = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)
    assert [sorted(m.text for m in g.messages) for g in groups] == [
        sorted(SNOW), sorted(GRANTS), [GIBBERISH], [WEATHER]]
    assert [g.count for g in groups] == [3, 2, 1, 1]
    assert [g.conversations for g in groups] == [2, 1, 1, 1]  # the snow questions came from c-flow-stop and d-search
    assert not any(g.handled for g in groups)
    # Each group is named by one of its own questions.
    assert all(g.label in {m.text for m in g.messages} for g in groups)


def test_why_each_message_is_a_gap(store_url, state_db):
    groups = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)
    reasons = {m.text: (m.reason, m.sender_id) for g in groups for m in g.messages}
    assert reasons == {
        SNOW[0]: ("fallback", "c-flow-stop"), SNOW[1]: ("fallback", "c-flow-stop"),
        SNOW[2]: ("low confidence", "d-search"),  # classified as a topic at 0.12, under the 0.15 threshold
        GRANTS[0]: ("fallback", "h-grants"), GRANTS[1]: ("fallback", "h-grants"),
        GIBBERISH: ("fallback", "d-search"),  # answered by action_default_fallback
        WEATHER: ("out of scope", "c-flow-stop"),
    }
    # Not gaps: an answer to a flow's question, button payloads, a question from before the period.
    texts = set(reasons)
    assert FORM_ANSWER not in texts and BEFORE_RANGE_QUESTION not in texts
    assert not any(t.startswith("/") for t in texts)


def test_examples_carry_sender_and_time_newest_first(store_url, state_db):
    snow = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)[0]
    assert [(m.text, m.sender_id) for m in snow.examples] == [
        (SNOW[2], "d-search"), (SNOW[1], "c-flow-stop"), (SNOW[0], "c-flow-stop")]
    times = [dt.datetime.fromisoformat(m.time) for m in snow.examples]
    assert times == sorted(times, reverse=True) and times[0].date() == dt.date(2026, 3, 3)
    assert snow.to_dict()["examples"][0] == {"text": SNOW[2], "sender_id": "d-search", "time": snow.examples[0].time,
                                             "reason": "low confidence"}


def test_the_threshold_comes_from_config_by_default(store_url, state_db):
    from_config = gaps.find_gaps(store_url, *PERIOD, state_db)
    explicit = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=config_fallback_threshold())
    assert [g.to_dict() for g in from_config] == [g.to_dict() for g in explicit]
    # A stricter threshold adds the topic question answered at 0.8 as a low-confidence gap.
    strict = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=0.85)
    usual = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)
    added = {m.text for g in strict for m in g.messages} - {m.text for g in usual for m in g.messages}
    assert added == {"how do I get paid by a ministry"}


def test_keys_are_stable_across_runs_and_periods(store_url, state_db):
    first = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)
    second = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)
    assert [g.key for g in first] == [g.key for g in second]
    assert len({g.key for g in first}) == 4 and all(re.fullmatch(r"[0-9a-f]{16}", g.key) for g in first)
    one_day = gaps.find_gaps(store_url, dt.date(2026, 3, 3), dt.date(2026, 3, 3), state_db,
                             threshold=FALLBACK_THRESHOLD)
    assert groups_by_texts(one_day)[frozenset(SNOW)].key == first[0].key
    # The key is the hash of the label's normalized text: punctuation and case do not matter.
    assert first[0].key == gaps.text_key(first[0].label.upper() + "?!")


def test_marking_a_group_handled_persists(store_url, state_db):
    groups = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)
    snow_key = groups[0].key
    gaps.mark_handled(state_db, snow_key, now=dt.datetime(2026, 3, 5, 9, 0, tzinfo=dt.timezone.utc))
    assert state_db.exists()
    with sqlite3.connect(state_db) as connection:
        assert connection.execute("SELECT key, handled_at FROM gap_handled").fetchall() == [
            (snow_key, "2026-03-05T09:00:00+00:00")]
    again = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)
    assert [(g.key, g.handled) for g in again] == [(g.key, g.key == snow_key) for g in groups[1:]] + [
        (snow_key, True)]  # handled groups go last
    gaps.mark_handled(state_db, snow_key, handled=False)
    assert not any(g.handled for g in gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD))


def test_the_handled_flag_follows_the_group_when_it_grows(store_url, state_db):
    groups = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)
    gaps.mark_handled(state_db, groups[0].key)
    # March 1 adds another snow-plowing question to the group; it stays handled.
    wide = gaps.find_gaps(store_url, dt.date(2026, 3, 1), dt.date(2026, 3, 5), state_db, threshold=FALLBACK_THRESHOLD)
    snow = [g for g in wide if set(SNOW) <= {m.text for m in g.messages}]
    assert len(snow) == 1 and snow[0].handled and snow[0].count == 4
    assert BEFORE_RANGE_QUESTION in {m.text for m in snow[0].messages}
    assert [g.handled for g in wide].count(True) == 1


@pytest.mark.parametrize("key", ["", "zz", "../../etc", "0" * 15, "0" * 17, "ABCDEF0123456789", None])
def test_mark_handled_refuses_a_bad_key(state_db, key):
    with pytest.raises(ValueError, match="not a gap group key"):
        gaps.mark_handled(state_db, key)
    assert not state_db.exists()


def test_grouping_keeps_unrelated_questions_apart_and_identical_ones_together():
    def msg(text, n):
        return gaps.GapMessage(text, f"s{n}", f"2026-03-0{n}T10:00:00+00:00", "fallback")

    messages = [msg("How do I bid on a snow removal contract?", 1), msg("how do i bid on a SNOW removal contract", 2),
                msg("Can my co-op sell catering to a hospital", 3), msg("co-op catering for hospitals", 4),
                msg("what is the capital of France", 5)]
    groups = gaps.group_messages(messages)
    assert sorted(sorted(m.sender_id for m in g.messages) for g in groups) == [["s1", "s2"], ["s3", "s4"], ["s5"]]
    assert gaps.group_messages([]) == []
    single = gaps.group_messages([msg("only one", 1)])
    assert [(g.count, g.label) for g in single] == [(1, "only one")]



@pytest.mark.parametrize("texts", [["k", "?", "x"], ["?", "!!"], ["é"], ["k", "?", "a b", "ok"]])
def test_messages_without_any_word_are_grouped_not_an_error(texts):
    messages = [gaps.GapMessage(text, f"s{n}", f"2026-03-0{n + 1}T10:00:00+00:00", "fallback")
                for n, text in enumerate(texts)]
    groups = gaps.group_messages(messages)
    assert sum(g.count for g in groups) == len(texts)
    assert sorted(m.text for g in groups for m in g.messages) == sorted(texts)
    # "?" and "!!" are the same question once punctuation is dropped; single letters stay apart
    assert len(groups) == len({gaps.normalize(t) for t in texts})


def test_gaps_html_has_a_form_per_group_and_escapes(store_url, state_db):
    groups = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)
    gaps.mark_handled(state_db, groups[1].key)
    groups = gaps.find_gaps(store_url, *PERIOD, state_db, threshold=FALLBACK_THRESHOLD)
    html = gaps.gaps_html(groups, 'tok"en<')
    forms = re.findall(r'<form method="post" action="/staff/gaps/handled"[^>]*>(.*?)</form>', html)
    assert len(forms) == len(groups) == 4
    for group, form in zip(groups, forms):
        assert f'name="key" value="{group.key}"' in form
        assert f'name="handled" value="{"0" if group.handled else "1"}"' in form
        assert 'name="csrf" value="tok&quot;en&lt;"' in form
        assert ("Reopen" if group.handled else "Mark handled") in form
    assert html.count('class="gap-group gap-handled"') == 1
    assert '<a href="/staff/conversations/c-flow-stop">' in html and '<a href="/staff/conversations/h-grants">' in html
    assert "what&#x27;s the weather like today" in html
    assert "3 messages" in html and "in 2 conversations" in html

    hostile = gaps.group_messages([gaps.GapMessage('<img src=x onerror="alert(1)">', "a/b c",
                                                   "2026-03-02T10:00:00+00:00", "fallback")])
    html = gaps.gaps_html(hostile, "t")
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert '/staff/conversations/a%2Fb%20c"' in html
    assert "No unanswered questions" in gaps.gaps_html([], "t")


def test_contact_details_typed_into_a_question_are_not_shown(tmp_path):
    from staff_helpers import Script, at, write_store

    s = Script("contact", at("2026-06-02", "10:00:00"))
    s.fallback("pls call me at (416) 555-0199 or jane.doe@example.com about set-asides")
    s.action("action_fallback_suggestions").bot("utter_fallback_suggestions").listen()
    s.fallback("is a 2026-03-12 deadline for a 1250000 contract normal")
    s.action("action_fallback_suggestions").bot("utter_fallback_suggestions").listen()
    url = write_store(tmp_path / "contact.db", [s])
    day = dt.date(2026, 6, 2)
    groups = gaps.find_gaps(url, day, day, tmp_path / "staff.db", threshold=FALLBACK_THRESHOLD)
    texts = sorted(m.text for g in groups for m in g.messages)
    assert texts == ["is a 2026-03-12 deadline for a 1250000 contract normal",
                     "pls call me at [phone] or [email] about set-asides"]
    html = gaps.gaps_html(groups, "t")
    assert "555-0199" not in html and "example.com" not in html
    # The examples' times are shown in the staff's zone (EDT in June), the exact moment in the datetime attribute.
    assert sorted(re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', html)) == [
        ("2026-06-02T10:00:01-04:00", "2026-06-02 10:00:01 EDT"), ("2026-06-02T10:00:05-04:00", "2026-06-02 10:00:05 EDT")]
