"""Search ranking: the pure pieces, then properties of the real default index (entity pages first,
answer-bearing passages shown, question phrasing handled)."""

from pathlib import Path

import pytest

from thrifty.search.corpus import factbook_url, wiki_url
from thrifty.search.index import CorpusIndex
from thrifty.search.ranking import (
    Candidate,
    best_passage,
    concepts,
    content_terms,
    coverage,
    diversify,
    entity_aliases,
    entity_key,
    extract_passages,
    fuse,
    mention,
    query_phrases,
)


def test_entity_keys_drop_disambiguation_sections_and_articles() -> None:
    assert entity_key("Mercury (planet)") == "mercury"
    assert entity_key("Peru - People and Society (The World Factbook)") == "peru"
    assert entity_key("The Great Gatsby") == "great gatsby"
    assert entity_key("The") == "the"


def test_query_phrases_keep_inner_stopwords_but_not_edges() -> None:
    phrases = query_phrases("Who wrote Leaves of Grass?")
    assert "leaves of grass" in phrases and "wrote" in phrases
    assert not any(p.startswith(("who ", "of ")) or p.endswith(" of") for p in phrases)


def test_a_huge_query_yields_a_bounded_number_of_phrases(index: "CorpusIndex") -> None:
    essay = " ".join(f"word{i} Peru" for i in range(5000))
    assert len(query_phrases(essay)) <= 6 * 64
    assert isinstance(index.search_sync(essay, k=3), list)


def test_content_terms_expand_question_words_to_page_vocabulary() -> None:
    terms = content_terms("How many people live in Chile?")
    assert terms[:3] == ["many", "people", "live"] or "chile" in terms
    assert "population" in terms and "how" not in terms
    assert content_terms("the of") == ["the", "of"]  # nothing but stopwords: keep them


def test_fusion_puts_the_named_entity_first() -> None:
    pool = [Candidate(1, 10.0, "perth"), Candidate(2, 4.0, "australia", bonus=0.8), Candidate(3, 9.0, "tasmania")]
    assert [pid for _, pid in fuse(pool)] == [2, 1, 3]
    plain = [Candidate(1, 10.0, "perth"), Candidate(2, 4.0, "australia"), Candidate(3, 9.0, "tasmania")]
    assert [pid for _, pid in fuse(plain)] == [1, 3, 2]


def test_pages_about_a_named_entity_are_ordered_by_the_rest_of_the_query() -> None:
    pool = [Candidate(1, 9.0, "peru", bonus=0.7), Candidate(2, 6.0, "peru", bonus=0.7, residual=1.0)]
    assert [pid for _, pid in fuse(pool)] == [2, 1]


def test_people_are_named_by_their_surname_too() -> None:
    assert entity_aliases("Wolfgang Amadeus Mozart") == [("wolfgang amadeus mozart", 1.0), ("mozart", 0.7)]
    assert entity_aliases("Leonardo da Vinci")[-1][0] == "vinci"
    assert entity_aliases("Symphony No. 5 (Beethoven)") == [("symphony no 5", 1.0)]
    assert entity_aliases("Peru - Economy (The World Factbook)") == [("peru", 1.0)]


def test_one_entity_cannot_crowd_out_the_rest() -> None:
    entity = {1: "peru", 2: "peru", 3: "peru", 4: "chile"}
    assert diversify([1, 2, 3, 4], entity) == [1, 2, 4, 3]
    assert diversify([1, 2, 3, 4], entity, per_entity=1) == [1, 4, 2, 3]


def test_a_labelled_line_that_names_the_fact_beats_lines_that_mention_its_word() -> None:
    asked = concepts("What is the capital of Nigeria?", lambda _: 1.0, exclude={"nigeria"})
    government = "Country name: Nigeria\nCapital / name: Abuja\nCapital / time difference: UTC+1"
    economy = "Real GDP per capita: $5,700\nBudget / note: capital expenditure rose in 2023"
    prose = "Abuja became the capital in 1991."
    assert coverage(government, asked) == 1.0
    assert coverage(economy, asked) < coverage(prose, asked) < coverage(government, asked)


def test_a_word_and_its_expansions_are_one_concept_and_question_framing_is_not_evidence() -> None:
    asked = concepts("Which country has more people, Ethiopia or Egypt?", lambda _: 1.0, exclude={"ethiopia", "egypt"})
    assert list(asked.values()) == [1.0]  # "people" (≡ "population"); "country" and "more" frame the question
    assert coverage("Population / total: 121,372,632", asked) > coverage("Population distribution: highlands", asked)


def test_a_page_that_names_the_subject_with_what_is_asked_is_credited() -> None:
    asked = concepts("Who invented the World Wide Web?", lambda _: 1.0, exclude={"world", "wide", "web"})
    person = "English computer scientist. He is best known as the inventor of the World Wide Web and HTML."
    other = "Swedish chemist and inventor. He invented dynamite. He read about the web of trade."
    assert mention(person, {"world wide web"}, asked) > 0.5  # "inventor" is a form of "invented"
    assert mention(other, {"world wide web"}, asked) == 0.0  # an inventor, but of something else
    assert mention(person, set(), asked) == 0.0


def test_best_passage_is_the_sentence_that_answers() -> None:
    text = (
        "Leaves of Grass is a poetry collection. It was first published in 1855. "
        "The author, Walt Whitman, revised it for the rest of his life. Its style was new."
    )
    passage = best_passage(text, "who is the author of Leaves of Grass", title="Leaves of Grass", max_chars=90)
    assert "Walt Whitman" in passage and len(passage) <= 90


def test_extract_passages_leads_with_the_opening_and_marks_gaps() -> None:
    text = "A is a town. B happened. C happened. The population of A is 5,000. D happened."
    out = extract_passages(text, "population", max_chars=50)
    assert out.startswith("A is a town.") and "5,000" in out and "…" in out
    assert extract_passages("", "x") == "(empty page)"


@pytest.fixture(scope="module")
def index(default_index_path: Path) -> CorpusIndex:
    return CorpusIndex(default_index_path)


@pytest.mark.parametrize(
    ("query", "url"),
    [
        ("What is the capital of Australia?", factbook_url("Australia", "Government")),
        ("Who wrote Leaves of Grass?", wiki_url("Leaves of Grass")),
        ("Who directed the film 2001: A Space Odyssey?", wiki_url("2001: A Space Odyssey")),
    ],
)
def test_the_page_about_the_named_entity_ranks_in_the_top_two(index: CorpusIndex, query: str, url: str) -> None:
    assert url in [r.url for r in index.search_sync(query, k=2)]


@pytest.mark.parametrize(
    ("query", "url"),
    [
        ("Who invented the World Wide Web?", wiki_url("Tim Berners-Lee")),
        ("Who founded the Mongol Empire?", wiki_url("Genghis Khan")),
    ],
)
def test_an_inverse_question_finds_the_page_that_names_its_subject(index: CorpusIndex, query: str, url: str) -> None:
    assert url in [r.url for r in index.search_sync(query, k=5)]


def test_factbook_facts_are_found_from_natural_phrasing(index: CorpusIndex) -> None:
    results = index.search_sync("How many people live in Peru?", k=5)
    people = factbook_url("Peru", "People and Society")
    assert people in [r.url for r in results]
    assert "Population" in next(r.snippet for r in results if r.url == people)


@pytest.mark.parametrize(
    ("query", "urls"),
    [
        (
            "Which has more people, Ethiopia or Egypt?",
            [factbook_url("Ethiopia", "People and Society"), factbook_url("Egypt", "People and Society")],
        ),
        (
            "Which is bigger by area, India or Argentina?",
            [factbook_url("India", "Geography"), factbook_url("Argentina", "Geography")],
        ),
        ("what is the capital of nigeria", [factbook_url("Nigeria", "Government")]),
        ("What's Turkey's capital city?", [factbook_url("Turkey", "Government")]),
        ("How large is Canada in square kilometres?", [factbook_url("Canada", "Geography")]),
    ],
)
def test_the_section_stating_the_asked_fact_is_found_for_each_entity(
    index: CorpusIndex, query: str, urls: list[str]
) -> None:
    top = [r.url for r in index.search_sync(query, k=5)]
    assert all(url in top for url in urls), top


def test_snippets_show_the_answer_bearing_passage(index: CorpusIndex) -> None:
    top = index.search_sync("Who wrote Leaves of Grass?", k=3)
    assert any("Whitman" in r.snippet for r in top)
    assert all(len(r.snippet) <= 400 for r in top)
