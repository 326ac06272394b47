"""Verb-noun analysis (§5.4): hand-checked parses, sub-instruction splitting, real instruction sets from
../shared/data, and the sunburst's consistency and byte-identical re-runs."""

from __future__ import annotations

import pytest

from seqit_utils.analysis import verb_noun as vn
from seqit_utils.data import loaders


@pytest.fixture(scope="module")
def nlp():
    return vn.load_parser()


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Give three tips for staying healthy.", ("give", "tip")),
        ("Write a poem about the sea.", ("write", "poem")),
        ("Rewrite the following sentence using active voice.", ("rewrite", "sentence")),
        # the root is a noun and the verb is not its first child: the authors' search missed these
        ("Your task: summarize the article.", ("summarize", "article")),
        ("The best way to cook rice?", ("cook", "rice")),
        ("A recipe that uses three eggs.", ("use", "egg")),
        # no verb at all; a pronoun object is not a noun
        ("What is the capital of France?", (None, None)),
        ("Given a list of numbers, sort them.", ("sort", None)),
    ],
)
def test_verb_closest_to_the_root_and_its_first_noun_object(nlp, sentence, expected):
    assert vn.verb_and_noun(nlp(sentence)) == expected


# Hand-written constituency parses in benepar's `parse_string` format (PTB labels), with each token's lemma.
TREES = [
    ("(S (VP (VB Write) (NP (DT a) (NN poem)) (PP (IN about) (NP (DT the) (NN sea)))) (. .))",
     "write a poem about the sea .", ("write", "poem")),
    # a noun-phrase root: the VP is two levels down (the authors' first-child search missed it)
    ("(NP (NP (PRP$ Your) (NN task)) (: :) (S (VP (VB summarize) (NP (DT the) (NN article)))) (. .))",
     "your task : summarize the article .", ("summarize", "article")),
    # the object NP's head noun is inside its first NP (NP -> NP PP)
    ("(S (VP (VB Give) (NP (NP (CD three) (NNS tips)) (PP (IN for) (S (VP (VBG staying) (ADJP (JJ healthy)))))))"
     " (. .))", "give three tip for stay healthy .", ("give", "tip")),
    # the participle of an opening PP is not under a VP; the pronoun object is not a noun
    ("(S (PP (VBN Given) (NP (NP (DT a) (NN list)) (PP (IN of) (NP (NNS numbers))))) (, ,) (VP (VB sort)"
     " (NP (PRP them))) (. .))", "give a list of number , sort they .", ("sort", None)),
    # coordinated VPs: the first verb of the shallowest VP that has one
    ("(S (VP (VP (VB Read) (NP (DT the) (NN text))) (CC and) (VP (VB summarize) (NP (PRP it)))) (. .))",
     "read the text and summarize it .", ("read", "text")),
    # a question: "is" heads no VP
    ("(SBARQ (WHNP (WP What)) (SQ (VBZ is) (NP (NP (DT the) (NN capital)) (PP (IN of) (NP (NNP France))))) (. ?))",
     "what be the capital of France ?", (None, None)),
]  # fmt: skip


@pytest.mark.parametrize(("parse", "lemmas", "expected"), TREES)
def test_constituency_verb_and_noun_from_benepar_style_trees(parse, lemmas, expected):
    from nltk import Tree

    assert vn.verb_and_noun_from_tree(Tree.fromstring(parse), lemmas.split()) == expected


def test_benepar_is_used_only_when_installed_and_its_absence_is_recorded():
    missing = vn.benepar_missing()
    if missing is None:
        pytest.skip("benepar and benepar_en3 are installed here: the spaCy fallback cannot be shown")
    with pytest.raises(OSError, match="benepar.*pip install benepar|benepar_en3"):
        vn.load_parser(parser="benepar")
    info = vn.parser_info(vn.load_parser(parser="auto"))
    assert info["parser"] == "spacy" and info["requested"] == "auto" and info["benepar_not_used"] == missing
    assert vn.parser_label(info) == f"spaCy {info['pipeline']} {info['pipeline_version']} dependencies"
    with pytest.raises(ValueError, match="allowed values: auto, spacy, benepar"):
        vn.load_parser(parser="stanza")


def test_sequential_instructions_are_split_into_their_steps():
    assert vn.split_instruction("First, translate the input into English, then answer the question.") == [
        "translate the input into English",
        "answer the question",
    ]
    assert vn.split_instruction("Generate a list of fruits and then sort them. Finally, count them.") == [
        "Generate a list of fruits",
        "sort them",
        "count them",
    ]
    # an input embedded after "…:" + line break is not an instruction; "Re-write" keeps its verb whole
    assert vn.split_instruction("Re-write the following sentence:\n\nThe two were walking.") == [
        "Rewrite the following sentence"
    ]
    assert vn.split_instruction("") == []


def test_pairs_and_top_pairs_count_sub_instructions(nlp):
    texts = ["Write a poem. Then write a story.", "Write a poem about cats.", "Give a tip", "What is love?"]
    pairs = vn.verb_noun_pairs(texts, nlp)
    assert [(p["index"], p["verb"], p["noun"]) for p in pairs] == [
        (0, "write", "poem"),
        (0, "write", "story"),
        (1, "write", "poem"),
        (2, "give", "tip"),
        (3, None, None),
    ]
    assert vn.top_pairs(pairs, n_verbs=1, n_nouns=1) == {"write": {"count": 3, "nouns": {"poem": 2}}}
    assert vn.summary(pairs, len(texts)) == {
        "instructions": 4, "sub_instructions": 5, "with_verb": 4, "with_verb_and_noun": 4, "distinct_verbs": 2
    }  # fmt: skip


def test_real_instruction_sets_give_the_expected_top_verbs(nlp, shared_data):
    alpaca = [r["instruction"] for r in loaders.load_alpaca(data_dir=shared_data)]
    top = vn.top_pairs(vn.verb_noun_pairs(alpaca, nlp))
    assert len(top) == 15 and all(1 <= len(v["nouns"]) <= 4 for v in top.values())
    assert list(top)[:3] == ["generate", "create", "write"]  # Self-Instruct-style data: generation verbs lead
    seqeval = [r["instruction"] for r in loaders.load_seqeval(data_dir=shared_data)]
    pairs = vn.verb_noun_pairs(seqeval, nlp)
    assert vn.summary(pairs, len(seqeval))["sub_instructions"] > 3 * len(seqeval)  # SeqEval chains several tasks
    assert "provide" in vn.top_pairs(pairs)


def test_sunburst_rings_are_consistent_and_files_identical_on_a_rerun(tmp_path):
    top = {"write": {"count": 6, "nouns": {"poem": 3, "story": 2}}, "give": {"count": 2, "nouns": {"tip": 2}}}
    assert vn.ring_sizes(top) == ([5, 2], [[3, 2], [2]])
    first = vn.sunburst(top, "test", tmp_path / "a")
    second = vn.sunburst(top, "test", tmp_path / "b")
    assert [p.suffix for p in first] == [".png", ".pdf"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert b"CreationDate" not in first[1].read_bytes()
