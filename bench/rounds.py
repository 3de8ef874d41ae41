"""Mapping rounds at the size of a region's whole register: checking a list, and creating, sending and
reading a round (bench/README.md, "Mapping rounds").

    python bench/rounds.py [--n 20000] [--db]      # --db also times create/send/figures on the configured database

The list is generated: valid organisation numbers (mod-11 digit computed), unique addresses, the
region's municipalities. Only `--db` writes, into a round it deletes afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from stdnum.no import orgnr

from service.rounds import organisations

MUNICIPALITIES = ("Gjøvik", "Østre Toten", "Vestre Toten", "Søndre Land", "Nordre Land", "Lillehammer")


def numbers(n: int, seed: int = 7) -> list[str]:
    """n distinct valid organisation numbers (random 8 digits, then the check digit that passes mod-11)."""
    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < n:
        base = str(rng.randrange(80_000_000, 99_999_999))[:8]
        valid = [base + str(digit) for digit in range(10) if orgnr.is_valid(base + str(digit))]
        found.update(valid[:1])  # bases whose check digit would be 10 have none
    return sorted(found)


def csv_file(n: int) -> bytes:
    """A Norwegian Excel CSV of n organisations (BOM, semicolons)."""
    lines = ["organisasjonsnummer;navn;e-post;kommune;kontaktperson;språk;type"]
    for i, number in enumerate(numbers(n)):
        lines.append(f"{number};Bedrift {i} AS;post{i}@bedrift{i}.example;{MUNICIPALITIES[i % 6]};Kari {i};;company")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def check(n: int) -> None:
    data = csv_file(n)
    started = time.perf_counter()
    found, errors = organisations.read(data)
    seconds = time.perf_counter() - started
    assert not errors and len(found) == n
    print(f"check {n} organisations ({len(data) / 1024:.0f} KiB): {seconds:.2f} s ({n / seconds:,.0f}/s)")


async def database(n: int) -> None:
    from service.kit.audit import Actor
    from service.kit.commandline import command_database
    from service.kit.config import get_settings
    from service.rounds import service

    settings = get_settings()
    found, _ = organisations.read(csv_file(n))
    actor = Actor.staff(None, "bench")
    async with command_database(settings) as pool, pool.acquire() as conn:
        t0 = time.perf_counter()
        round_id = await service.create(conn, actor, "bench", 7, "bench.csv", found)
        t1 = time.perf_counter()
        sent = await service.send(conn, None, settings, actor, round_id)
        t2 = time.perf_counter()
        await service.figures(conn, round_id)
        t3 = time.perf_counter()
        print(f"create {n}: {t1 - t0:.2f} s; send (render + outbox) {sent}: {t2 - t1:.2f} s;"
              f" figures: {(t3 - t2) * 1000:.0f} ms")
        await conn.execute("DELETE FROM outbox WHERE template = 'round_invitation' AND to_address LIKE '%.example'"
                           " AND created_at >= now() - interval '1 hour'")
        await conn.execute("DELETE FROM mapping_rounds WHERE id = $1", round_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--db", action="store_true")
    args = parser.parse_args()
    check(args.n)
    if args.db:
        asyncio.run(database(args.n))


if __name__ == "__main__":
    main()
