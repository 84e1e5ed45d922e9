"""``ldmatte prompts``: write a seeded, balanced bank of portrait prompts as JSON lines."""
from __future__ import annotations

import sys

ORDER = 30


def register(sub) -> None:
    p = sub.add_parser(
        "prompts",
        help="write N unique, balanced portrait prompts (with their attributes) as JSON lines",
        description="Write a seeded, reproducible bank of single-person portrait prompts. The first N records "
        "of a larger bank with the same seed are identical, so a dataset can be extended.",
    )
    p.add_argument("-n", "--count", type=int, default=20000, help="number of prompts (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bank (default 0)")
    p.add_argument("-o", "--output", default="-", help="output .jsonl file ('-' = stdout, the default)")
    p.add_argument("--negative-prompt", default=None, help="negative prompt stored in each record")
    p.add_argument("--stats", action="store_true", help="print the count of every attribute value to stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from ..generate.prompts import DEFAULT_NEGATIVE_PROMPT, attribute_counts, make_prompts, write_jsonl

    if args.count < 0 or args.seed < 0:
        print("ldmatte prompts: --count and --seed must be >= 0", file=sys.stderr)
        return 2
    negative = DEFAULT_NEGATIVE_PROMPT if args.negative_prompt is None else args.negative_prompt
    records = make_prompts(args.count, args.seed, negative)
    if args.output == "-":
        for rec in records:
            sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
    else:
        write_jsonl(records, args.output)
        print(f"wrote {len(records)} prompts to {args.output}", file=sys.stderr)
    if args.stats:
        for name, counts in attribute_counts(records).items():
            values = ", ".join(f"{v}: {c}" for v, c in sorted(counts.items(), key=lambda kv: -kv[1]))
            print(f"{name} ({len(counts)} values): {values}", file=sys.stderr)
    return 0
