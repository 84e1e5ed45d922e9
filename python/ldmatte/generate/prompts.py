"""A seeded, balanced bank of single-person portrait prompts for Layer Diffusion.

Every prompt comes from an attribute grammar (:data:`ATTRIBUTES`: age, gender,
ethnicity, hair length / colour / texture / arrangement / detail, facial hair,
clothing and its colour, accessory, expression, framing from a headshot to half
body, pose, view angle, lighting, photographic style). An attribute's choices may
depend on the attributes before it (facial hair only for adult men, braids only
for long hair, a pose only for waist-up framing, grey hair for the elderly, ...).
Each distinct list of choices is drawn from its own *balanced stream*: the values
in shuffled rounds, so within every context each value occurs equally often, to
within one.

The bank is reproducible and extendable: the same seed gives the same records,
and the first ``n`` records of a longer bank are the bank of ``n`` (prompts that
repeat an earlier one are skipped, which every length agrees on).

Records are plain dicts, ready for JSON lines, and keep their attributes so a
dataset manifest can store them::

    {"id": "s0-000000", "prompt": "...", "negative_prompt": "...", "attributes": {...}}

Examples
--------
>>> from ldmatte.generate.prompts import make_prompts
>>> recs = make_prompts(3, seed=7)
>>> [r["id"] for r in recs]
['s7-000000', 's7-000001', 's7-000002']
>>> recs == make_prompts(3, seed=7) and recs[:2] == make_prompts(2, seed=7)
True
>>> sorted(recs[0]["attributes"])[:3]
['accessory', 'age', 'clothing']
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import random

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_NEGATIVE_PROMPT",
    "SUFFIX",
    "attribute_counts",
    "iter_prompts",
    "make_prompts",
    "read_jsonl",
    "render_prompt",
    "write_jsonl",
]

DEFAULT_NEGATIVE_PROMPT = (
    # The first four terms are LayerDiffuse's own demo negative; the rest keep one
    # whole, sharp person in the frame, which is what a matting dataset needs.
    "face asymmetry, eyes asymmetry, deformed eyes, open mouth, multiple people, extra limbs, "
    "deformed hands, cropped head, blurry, lowres, watermark, text"
)
SUFFIX = "solo, plain background, high quality"

Attribute = collections.namedtuple("Attribute", "name choices")
Attribute.__doc__ = "One attribute: ``choices(attrs)`` gives its values for a record, or None where it does not apply."

_ADULT = ("young adult", "adult", "middle aged", "elderly")
_LONG = ("shoulder length", "long", "very long")
_NATURAL = ("black", "dark brown", "chestnut brown", "light brown", "auburn", "copper red", "strawberry blonde",
            "golden blonde", "ash blonde", "platinum blonde")
_DYED = ("pastel pink", "electric blue", "lavender", "dyed teal", "bleached")
_GREY = ("grey", "silver", "white", "salt and pepper")
_TOPS = ("t-shirt", "hoodie", "denim jacket", "leather jacket", "knit sweater", "turtleneck", "flannel shirt",
         "dress shirt", "cardigan", "sweatshirt", "puffer jacket", "linen shirt", "blazer", "polo shirt")


def _fixed(*values):
    return lambda attrs: values


def _hair_length(attrs):
    base = ("short", "chin length", "shoulder length", "long", "very long")
    if attrs["gender"] == "male":
        return base + (("buzz cut", "bald") if attrs["age"] in _ADULT else ("buzz cut",))
    return base


def _hair_colour(attrs):
    age = attrs["age"]
    if attrs["hair_length"] == "bald":
        return None
    if age == "elderly":
        return _GREY + ("dark brown", "dyed blonde")
    if age == "middle aged":
        return _NATURAL + ("greying", "salt and pepper")
    return _NATURAL + (_DYED if age in ("teenager", "young adult", "adult") else ())


def _hair_texture(attrs):
    return None if attrs["hair_length"] in ("bald", "buzz cut") else ("straight", "wavy", "curly", "coily", "frizzy")


def _hair_arrangement(attrs):
    length = attrs["hair_length"]
    if length in _LONG:
        return ("worn loose", "in a high ponytail", "in a low ponytail", "in a single braid", "in two braids",
                "in a messy bun", "in a half up style", "swept over one shoulder", "with curtain bangs")
    if length in ("short", "chin length"):
        return ("in a tousled style", "combed neatly", "slicked back", "with a side part", "with bangs",
                "in a messy style")
    return None


def _hair_detail(attrs):
    if attrs["hair_length"] not in _LONG and attrs["hair_texture"] not in ("curly", "coily", "frizzy"):
        return None
    return ("flyaway strands", "hair blowing in the wind", "loose strands", "voluminous hair",
            "fine wispy strands", "backlit strands")


def _facial_hair(attrs):
    if attrs["gender"] != "male" or attrs["age"] not in _ADULT:
        return None
    return ("clean shaven", "stubble", "short beard", "full beard", "moustache", "goatee")


def _clothing(attrs):
    if attrs["gender"] == "female":
        return _TOPS + ("blouse", "sundress", "wrap top")
    return _TOPS + (("business suit",) if attrs["age"] in _ADULT else ("school uniform",))


def _pose(attrs):
    if attrs["framing"] not in ("waist up portrait", "half body portrait"):
        return None
    return ("arms crossed", "hands in pockets", "hand on hip", "relaxed arms", "hand in hair", "hands clasped")


ATTRIBUTES = (
    Attribute("age", _fixed("child", "teenager", "young adult", "adult", "middle aged", "elderly")),
    Attribute("gender", _fixed("female", "male")),
    Attribute("ethnicity", _fixed("East Asian", "South Asian", "Southeast Asian", "Black", "White", "Hispanic",
                                  "Middle Eastern", "Native American", "Pacific Islander", "mixed race")),
    Attribute("hair_length", _hair_length),
    Attribute("hair_colour", _hair_colour),
    Attribute("hair_texture", _hair_texture),
    Attribute("hair_arrangement", _hair_arrangement),
    Attribute("hair_detail", _hair_detail),
    Attribute("facial_hair", _facial_hair),
    Attribute("clothing", _clothing),
    Attribute("clothing_colour", _fixed("white", "black", "grey", "navy", "beige", "olive green", "burgundy",
                                        "mustard", "sky blue", "red", "pastel pink", "brown", "teal")),
    Attribute("accessory", _fixed("none", "none", "glasses", "round glasses", "small earrings", "hoop earrings",
                                  "a necklace", "a beanie", "a baseball cap", "a wide brimmed hat",
                                  "headphones", "a scarf", "a headband", "a hair clip")),
    Attribute("expression", _fixed("neutral expression", "gentle smile", "warm smile", "serious expression",
                                   "thoughtful expression", "confident expression", "calm expression",
                                   "slight smirk", "soft smile")),
    Attribute("framing", _fixed("close-up headshot", "head and shoulders portrait", "bust portrait",
                                "chest up portrait", "waist up portrait", "half body portrait")),
    Attribute("pose", _pose),
    Attribute("view", _fixed("facing the camera", "three-quarter view", "side profile", "looking back",
                             "head slightly tilted", "looking away")),
    Attribute("lighting", _fixed("soft studio lighting", "softbox lighting", "rim lighting", "Rembrandt lighting",
                                 "butterfly lighting", "high key lighting", "soft natural light", "warm golden light",
                                 "cool diffused light", "dramatic side lighting")),
    Attribute("style", _fixed("professional portrait photo", "DSLR photo", "editorial photo",
                              "fashion photography", "candid photo", "cinematic photo", "35mm film photo",
                              "studio photo", "lifestyle photo")),
)

_NOUNS = {  # (age, gender) -> noun phrase without the ethnicity
    "child": ("girl", "boy"), "teenager": ("teenage girl", "teenage boy"),
    "young adult": ("young woman", "young man"), "adult": ("woman", "man"),
    "middle aged": ("middle aged woman", "middle aged man"), "elderly": ("elderly woman", "elderly man"),
}
_WEARABLE = ("a beanie", "a baseball cap", "a wide brimmed hat", "a scarf", "a headband", "a hair clip")


def _a(word: str) -> str:
    return f"an {word}" if word[0].lower() in "aeiou" else f"a {word}"


def _hair_phrase(a: dict) -> str:
    if a["hair_length"] == "bald":
        return "bald head"
    words = [a["hair_length"], a.get("hair_texture"), a["hair_colour"], "hair", a.get("hair_arrangement")]
    text = " ".join(w for w in words if w)
    return f"{text}, {a['hair_detail']}" if a.get("hair_detail") else text


def render_prompt(a: dict) -> str:
    """The prompt text of one attribute assignment (a record's ``attributes``).

    Examples
    --------
    >>> from ldmatte.generate.prompts import make_prompts, render_prompt
    >>> rec = make_prompts(1)[0]
    >>> render_prompt(rec["attributes"]) == rec["prompt"]
    True
    """
    a = {attr.name: a.get(attr.name) for attr in ATTRIBUTES}
    noun = _NOUNS[a["age"]][a["gender"] == "male"]
    first, _, rest = noun.rpartition(" ")  # the ethnicity goes before the last word: "young Black woman"
    subject = " ".join(w for w in (first, a["ethnicity"], rest) if w)
    parts = [a["style"], f"{a['framing']} of {_a(subject)}", _hair_phrase(a)]
    if a.get("facial_hair"):
        parts.append(a["facial_hair"])
    wearing = f"wearing {_a(a['clothing_colour'])} {a['clothing']}"
    acc = a["accessory"]
    if acc in _WEARABLE:
        wearing += f" and {acc}"
    parts.append(wearing)
    if acc != "none" and acc not in _WEARABLE:
        parts.append(f"with {acc}")
    parts += [a[k] for k in ("pose", "expression", "view", "lighting") if a.get(k)]
    return ", ".join(parts + [SUFFIX])


class _BalancedStream:
    """Values of one attribute in shuffled rounds: counts never differ by more than 1."""

    def __init__(self, values, rng: random.Random):
        self._values = list(values)
        self._rng = rng
        self._round: list = []

    def next(self):
        if not self._round:
            self._round = self._values[:]
            self._rng.shuffle(self._round)
        return self._round.pop()


def _stream_rng(seed: int, name: str) -> random.Random:
    # One independent generator per attribute, derived from the seed and the name,
    # so that adding an attribute to the grammar does not reshuffle the others.
    digest = hashlib.sha256(f"ldmatte-prompts:{seed}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return seed


def iter_prompts(seed: int = 0, negative_prompt: str = DEFAULT_NEGATIVE_PROMPT, *, max_skips: int = 100_000):
    """Yield unique prompt records forever (until the grammar runs dry).

    Parameters
    ----------
    seed : int
        Seed of the bank; ids are ``"s{seed}-{index:06d}"``.
    negative_prompt : str
        Stored in every record.
    max_skips : int
        Stop with a RuntimeError after this many duplicates in a row (the grammar
        cannot produce more distinct prompts).

    Yields
    ------
    record : dict
        ``id``, ``prompt``, ``negative_prompt``, ``attributes``.

    Examples
    --------
    >>> from ldmatte.prompts import iter_prompts
    >>> it = iter_prompts(seed=1)
    >>> first = next(it)
    >>> first["prompt"].endswith("high quality")
    True
    """
    seed = _check_seed(seed)
    if not isinstance(negative_prompt, str):
        raise TypeError(f"negative_prompt must be a str, got {type(negative_prompt).__name__}")
    streams: dict = {}
    seen: set[str] = set()
    index = skips = 0
    while True:
        attrs: dict = {}
        for a in ATTRIBUTES:
            # Choices only look at attributes defined earlier in the grammar; each
            # distinct list of choices has its own stream, balanced on its own.
            choices = a.choices(attrs)
            if choices is None:
                attrs[a.name] = None
                continue
            key = (a.name, choices)
            if key not in streams:
                streams[key] = _BalancedStream(choices, _stream_rng(seed, "|".join((a.name,) + choices)))
            attrs[a.name] = streams[key].next()
        prompt = render_prompt(attrs)
        if prompt in seen:
            skips += 1
            if skips > max_skips:
                raise RuntimeError(f"the prompt grammar ran out of distinct prompts after {len(seen)}")
            continue
        skips = 0
        seen.add(prompt)
        yield {
            "id": f"s{seed}-{index:06d}",
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "attributes": {k: v for k, v in attrs.items() if v is not None},
        }
        index += 1


def make_prompts(n: int, seed: int = 0, negative_prompt: str = DEFAULT_NEGATIVE_PROMPT) -> list[dict]:
    """The first ``n`` records of the bank with this seed.

    Parameters
    ----------
    n : int
        Number of records (>= 0).
    seed : int
    negative_prompt : str

    Returns
    -------
    records : list of dict

    Examples
    --------
    >>> from ldmatte.generate.prompts import make_prompts
    >>> len({r["prompt"] for r in make_prompts(500, seed=3)})
    500
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    it = iter_prompts(seed, negative_prompt)
    return [next(it) for _ in range(n)]


def attribute_counts(records) -> dict[str, collections.Counter]:
    """How often each value of each attribute occurs in ``records``.

    Examples
    --------
    >>> from ldmatte.prompts import attribute_counts, make_prompts
    >>> counts = attribute_counts(make_prompts(40, seed=0))
    >>> max(counts["gender"].values()) - min(counts["gender"].values()) <= 1
    True
    """
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for rec in records:
        for name, value in rec["attributes"].items():
            counts[name][value] += 1
    return dict(counts)


def write_jsonl(records, path) -> int:
    """Write records as JSON lines (atomically: temp file, then rename); return the count.

    Examples
    --------
    >>> import tempfile, os
    >>> from ldmatte.generate.prompts import make_prompts, read_jsonl, write_jsonl
    >>> path = os.path.join(tempfile.mkdtemp(), "p.jsonl")
    >>> write_jsonl(make_prompts(2), path), read_jsonl(path) == make_prompts(2)
    (2, True)
    """
    from ..fileio.readwrite import write_bytes_atomic

    lines = [json.dumps(rec, ensure_ascii=False) + "\n" for rec in records]
    write_bytes_atomic(os.fspath(path), "".join(lines).encode("utf-8"))  # no temp file left behind on a fault
    return len(lines)


def read_jsonl(path) -> list[dict]:
    """Read prompt records; each needs ``id`` and ``prompt`` (a clear ValueError otherwise)."""
    records = []
    with open(os.fspath(path), encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("prompt"), str) or "id" not in rec:
                raise ValueError(f"{path}:{lineno}: a record needs a string 'prompt' and an 'id'")
            records.append(rec)
    return records

