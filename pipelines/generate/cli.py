"""``referral-warehouse generate``: the sample region and its messy HIS exports."""

from __future__ import annotations

import argparse
import time


def _handler(args: argparse.Namespace) -> int:
    from pipelines.generate.core import generate, generate_day
    from pipelines.settings import paths

    out = paths(args.out).data_dir
    t0 = time.perf_counter()
    if args.day:
        m = generate_day(out, args.day, scale=args.scale, seed=args.seed)
        what = f"day {args.day}"
    else:
        m = generate(out, scale=args.scale, seed=args.seed)
        what = f"{m['period']['months']} months from {m['period']['start']}"
    secs = time.perf_counter() - t0
    counts = ", ".join(f"{e} {c.get('rows_inbox', 0):,}" for e, c in m["counts"].items())
    print(f"generated scale={args.scale} seed={args.seed} ({what}) into {out} in {secs:.1f}s")
    print(f"  rows in inbox files: {counts}")
    print(f"  files: {m['files']}, residents: {m['region']['residents']:,}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="write a synthetic region's HIS exports (inbox/, later/), registry/ and truth/",
        description=(
            "Generate a synthetic region: institutions, alliances, residents, one year of visits, referrals, "
            "follow-ups, contracts and slot pools/bookings, exported as five HIS dialects with configurable dirt, "
            "plus the ground truth. Same seed, same bytes."
        ),
    )
    p.add_argument("--scale", choices=["tiny", "small", "medium", "city"], default="small")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", default=None, help="output directory (default: the data directory, ./data)")
    p.add_argument(
        "--day",
        default=None,
        help="YYYY-MM-DD: only write one more day of files (<entity>_<YYYYMMDD>) for the existing region",
    )
    p.set_defaults(handler=_handler)
