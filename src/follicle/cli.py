"""The `follicle` command line: assess, eval, kb check, learn, quiz, serve.

Imports are lazy so `follicle assess --json` starts fast; every FollicleError becomes a
one-line message and exit status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .errors import FollicleError

app = typer.Typer(help="Is my hair loss caused by vitamin B12 deficiency, and if not, what?",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
kb_app = typer.Typer(help="Knowledge-base tools.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")


def _fail(exc: FollicleError) -> None:
    msg = str(exc).replace("\n", " ")
    sys.stderr.write(f"follicle: error: {msg}\n")
    raise typer.Exit(2)


@app.command()
def assess(
    case: Annotated[str, typer.Argument(help="Case file (YAML or JSON); '-' reads stdin.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print follicle-assessment/1 JSON.")]
    = False,
) -> None:
    """Assess one case and print the report (or its JSON)."""
    try:
        from .case import load_case
        from .engine.assess import assess as run

        parsed = load_case("stdin.yaml", sys.stdin.read()) if case == "-" else load_case(case)
        result = run(parsed)
        if json_out:
            import json

            sys.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
            return
        from rich.console import Console

        from .report import print_report

        print_report(result, Console())
    except FollicleError as exc:
        _fail(exc)


@app.command("eval")
def eval_cmd(
    directory: Annotated[Path, typer.Argument(help="Directory of vignette YAML files.")],
) -> None:
    """Score vignette files (shared/spec/vignettes.md) and list every miss."""
    from rich.console import Console
    from rich.table import Table

    from .evaluate import evaluate_dir

    try:
        score = evaluate_dir(directory)
    except FollicleError as exc:
        _fail(exc)
        return
    console = Console()
    table = Table(title=f"{len(score.results)} vignettes in {directory}")
    table.add_column("score")
    table.add_column("hits", justify="right")
    table.add_column("rate", justify="right")
    for name, hits, n in score.table():
        table.add_row(name, f"{hits}/{n}", f"{hits / n:.0%}" if n else "-")
    console.print(table)
    for r in score.results:
        for m in r.misses:
            console.print(f"MISS {r.name}: {m}", highlight=False)


@kb_app.command("check")
def kb_check(
    version: Annotated[str | None, typer.Option(help="Knowledge-base version.")] = None,
) -> None:
    """Validate the knowledge base: schema, references, coverage of every spec code."""
    from .kb.loader import check_kb, load_kb

    problems = check_kb(version)
    if problems:
        for p in problems:
            sys.stderr.write(f"{p}\n")
        sys.stderr.write(f"follicle: error: {len(problems)} problem(s) in the knowledge base\n")
        raise typer.Exit(2)
    kb = load_kb(version)
    sys.stdout.write(
        f"knowledge base {kb.version}: OK ({len(kb.findings)} findings, {len(kb.labs)} tests, "
        f"{len(kb.references)} references, {len(kb.red_flags)} red flags)\n")


@app.command()
def learn(
    topic: Annotated[str | None, typer.Argument(help="Article slug; omit to list.")] = None,
) -> None:
    """Read the evidence articles in the terminal."""
    from rich.console import Console

    from .learn import print_learn  # type: ignore[import-not-found,unused-ignore]

    try:
        print_learn(topic, Console())
    except FollicleError as exc:
        _fail(exc)


@app.command()
def quiz() -> None:
    """Answer the questionnaire in the terminal; the result is shown as the report."""
    from rich.console import Console

    from .quiz_cli import run_quiz  # type: ignore[import-not-found,unused-ignore]

    try:
        run_quiz(Console())
    except FollicleError as exc:
        _fail(exc)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    database: Annotated[str | None, typer.Option(
        "--database", help="Database URL (default: FOLLICLE_DATABASE_URL or SQLite).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Run the web app (quiz, results, learn pages and REST API)."""
    import os

    import uvicorn

    if database:
        os.environ["FOLLICLE_DATABASE_URL"] = database
    from .kb.loader import load_kb
    from .settings import Settings

    try:
        load_kb()  # a broken knowledge base stops here, before any worker starts
    except FollicleError as exc:
        _fail(exc)

    settings = Settings.from_env()
    os.environ.setdefault("FOLLICLE_SECRET_KEY", settings.secret_key)
    sys.stdout.write(f"follicle serving on http://{host}:{port}/  (database: "
                     f"{settings.database_url.split('@')[-1]})\n")
    sys.stdout.flush()
    uvicorn.run("follicle.web.app:create_app", factory=True, host=host, port=port,
                workers=workers, log_level="warning")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
