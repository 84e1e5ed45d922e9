"""The portrait prompt bank: reproducible, balanced, unique, consistent, and its CLI."""
import collections
import doctest
import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ldmatte.prompts as P
from ldmatte.cli import main


@pytest.fixture(scope="module")
def bank():
    return P.make_prompts(20000, seed=0)


def test_doctests():
    assert doctest.testmod(P, optionflags=doctest.ELLIPSIS).failed == 0


def test_twenty_thousand_unique(bank):
    assert len(bank) == 20000
    assert len({r["prompt"] for r in bank}) == 20000
    assert len({r["id"] for r in bank}) == 20000
    assert bank[0]["id"] == "s0-000000" and bank[-1]["id"] == "s0-019999"


def test_reproducible_and_extendable(bank):
    assert P.make_prompts(300, seed=0) == bank[:300]
    other = P.make_prompts(300, seed=1)
    assert other != bank[:300]
    assert all(r["id"].startswith("s1-") for r in other)
    assert len({r["prompt"] for r in other} & {r["prompt"] for r in bank[:300]}) < 5


def _choices_of(record):
    """Rebuild, record by record, the list of choices each attribute had."""
    attrs, out = {}, {}
    for a in P.ATTRIBUTES:
        choices = a.choices(attrs)
        attrs[a.name] = record["attributes"].get(a.name)
        assert (choices is None) == (attrs[a.name] is None), (a.name, record["prompt"])
        if choices is not None:
            assert attrs[a.name] in choices
            out[a.name] = choices
    return out


def test_balanced_within_every_context(bank):
    groups = collections.defaultdict(collections.Counter)
    for rec in bank:
        for name, choices in _choices_of(rec).items():
            groups[name, choices][rec["attributes"][name]] += 1
    for (name, choices), counts in groups.items():
        # Every distinct value gets its share; repeated values (weights) get a multiple.
        weights = collections.Counter(choices)
        per_unit = [counts[v] / weights[v] for v in weights]
        assert max(per_unit) - min(per_unit) <= 1, (name, choices, counts)


def test_top_level_attributes_exactly_balanced(bank):
    counts = P.attribute_counts(bank)
    for name in ("age", "gender", "ethnicity", "framing", "view", "lighting", "style", "expression"):
        values = counts[name].values()
        assert max(values) - min(values) <= 1, (name, counts[name])
    assert len(counts["ethnicity"]) >= 8 and len(counts["hair_colour"]) >= 15


def test_attributes_are_consistent(bank):
    adult = {"young adult", "adult", "middle aged", "elderly"}
    for rec in bank[:5000]:
        a = rec["attributes"]
        if "facial_hair" in a:
            assert a["gender"] == "male" and a["age"] in adult
        if a["hair_length"] == "bald":
            assert "hair_colour" not in a and "hair_texture" not in a and "bald head" in rec["prompt"]
        if "pose" in a:
            assert a["framing"] in ("waist up portrait", "half body portrait")
        if a["age"] == "child":
            assert a.get("hair_colour") not in ("grey", "silver", "white", "salt and pepper")
        assert P.render_prompt(a) == rec["prompt"]


def test_prompt_text_shape(bank):
    def approx_clip_tokens(text):  # words, digits and punctuation, each at least one token
        return len(re.findall(r"[A-Za-z]+|\d|[^\sA-Za-z\d]", text))

    for rec in bank:
        assert rec["prompt"].endswith(P.SUFFIX)
        assert rec["negative_prompt"] == P.DEFAULT_NEGATIVE_PROMPT
        # CLIP truncates at 77 tokens: the quality suffix at the end must survive.
        assert approx_clip_tokens(rec["prompt"]) <= 70
    assert "open mouth" in P.DEFAULT_NEGATIVE_PROMPT and "multiple people" in P.DEFAULT_NEGATIVE_PROMPT


def test_custom_negative_prompt():
    recs = P.make_prompts(3, seed=5, negative_prompt="blurry")
    assert {r["negative_prompt"] for r in recs} == {"blurry"}


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"n": -1}, ValueError),
        ({"n": 2.0}, TypeError),
        ({"n": True}, TypeError),
        ({"n": 1, "seed": -3}, ValueError),
        ({"n": 1, "seed": "0"}, TypeError),
        ({"n": 1, "negative_prompt": None}, TypeError),
    ],
)
def test_validation(kwargs, exc):
    with pytest.raises(exc):
        P.make_prompts(**kwargs)


def test_zero_prompts():
    assert P.make_prompts(0) == []


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**40), n=st.integers(0, 80), k=st.integers(0, 80))
def test_property_prefix_unique(seed, n, k):
    longer = P.make_prompts(n + k, seed)
    assert P.make_prompts(n, seed) == longer[:n]
    assert len({r["prompt"] for r in longer}) == n + k
    assert [r["id"] for r in longer] == [f"s{seed}-{i:06d}" for i in range(n + k)]


def test_jsonl_round_trip_and_errors(tmp_path):
    recs = P.make_prompts(10, seed=4)
    path = tmp_path / "p.jsonl"
    assert P.write_jsonl(recs, path) == 10
    assert P.read_jsonl(path) == recs
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "prompt": "x"}\n\n{"id": 2}\n')
    with pytest.raises(ValueError, match="bad.jsonl:3"):
        P.read_jsonl(bad)
    bad.write_text("{not json\n")
    with pytest.raises(ValueError, match="not valid JSON"):
        P.read_jsonl(bad)


def test_cli_file_and_stdout(tmp_path, capsys):
    out = tmp_path / "prompts.jsonl"
    assert main(["prompts", "-n", "50", "--seed", "3", "-o", str(out), "--stats"]) == 0
    signed = [{"written_by": "ldmatte prompts", **r} for r in P.make_prompts(50, 3)]  # a rerun may replace it
    assert P.read_jsonl(out) == signed
    err = capsys.readouterr().err
    assert "wrote 50 prompts" in err and "gender (2 values)" in err
    assert main(["prompts", "-n", "2", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x) for x in lines] == signed[:2]
    assert main(["prompts", "-n", "-1"]) == 2


def test_cli_help_stays_light():
    code = (
        "import sys, ldmatte.cli as c; p = c.build_parser(); p.format_help();"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
