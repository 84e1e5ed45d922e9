"""``ldmatte prompts``: write a seeded, balanced bank of portrait prompts as JSON lines."""
from __future__ import annotations

import sys

ORDER = 30


def register(sub) -> None:
    p = sub.add_parser(
        "prompts",
        help="write N unique, balanced portrait prompts (with their attributes) as JSON lines",
        description="Write a seeded, reproducible bank of single-person portrait prompts. The first N records "
        "of a larger bank with the same seed are identical, so a dataset can be extended. Each record names its "
        "writer (written_by), so a rerun may replace the file; -o refuses a file prompts did not write and a file "
        "inside another command's output folder (a dataset's manifest.jsonl). Exit status 2 on usage errors, 1 "
        "when the file cannot be written.",
    )
    p.add_argument("-n", "--count", type=int, default=20000, help="number of prompts, 1 or more (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bank (default 0)")
    p.add_argument("-o", "--output", default="-", help="output .jsonl file ('-' = stdout, the default)")
    p.add_argument("--negative-prompt", default=None, help="negative prompt stored in each record")
    p.add_argument("--stats", action="store_true", help="print the count of every attribute value to stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from ..fileio.ownership import UsageError, check_output_file, fault_message, signature
    from ..generate.prompts import DEFAULT_NEGATIVE_PROMPT, attribute_counts, make_prompts, write_jsonl

    if args.count < 1 or args.seed < 0:
        print(f"ldmatte prompts: --count must be >= 1 and --seed >= 0, got {args.count} and {args.seed}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        if args.output != "-":
            check_output_file(args.output, "prompts")
    except UsageError as exc:
        print(f"ldmatte prompts: {exc}", file=sys.stderr)
        return 2
    negative = DEFAULT_NEGATIVE_PROMPT if args.negative_prompt is None else args.negative_prompt
    records = [{**signature("prompts"), **rec} for rec in make_prompts(args.count, args.seed, negative)]
    if args.output == "-":
        try:
            for rec in records:
                sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # the reader stopped early (| head): no traceback, no second error at exit
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    else:
        try:
            write_jsonl(records, args.output)
        except OSError as exc:
            print(f"ldmatte prompts: {fault_message(exc, args.output)}", file=sys.stderr)
            return 1
        print(f"wrote {len(records)} prompts to {args.output}", file=sys.stderr)
    if args.stats:
        for name, counts in attribute_counts(records).items():
            values = ", ".join(f"{v}: {c}" for v, c in sorted(counts.items(), key=lambda kv: -kv[1]))
            print(f"{name} ({len(counts)} values): {values}", file=sys.stderr)
    return 0
