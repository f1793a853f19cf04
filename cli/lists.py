"""`whoknows lists`: the filter lists the proxy blocks with, and their updates.

Only `lists update` touches the network. Everything else works on the subscriptions and the copies
in the data directory.
"""

import dataclasses

import click

from cli.output import json_option, print_json, table


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def lists(ctx, as_json):
    """Show the subscribed filter lists (or add, remove and update them).

    Built in, on by default: a small list of major trackers (works offline). Subscribed by default:
    EasyPrivacy and uBlock Origin's privacy list, downloaded by the first `whoknows lists update`.

    Examples:

    \b
        whoknows lists
        whoknows lists update
    """
    if ctx.invoked_subcommand is not None:
        return
    from whoknows.filters import engine_cache, subscriptions as filter_subscriptions

    subscriptions = filter_subscriptions.read_subscriptions()
    loaded = engine_cache.open_engine()
    _warn(loaded.warnings)
    rows = [_row(sub, loaded.engine.lists.get(sub.name)) for sub in subscriptions]
    if as_json:
        print_json(rows)
        return
    table(
        "filter lists",
        ["Name", "Filters", "Skipped", "Updated", "Source"],
        [
            [
                r["name"],
                "-" if r["filters_used"] is None else f"{r['filters_used']:,}",
                _skipped_text(r["skipped"]),
                _updated_text(r),
                r["url"] or r["file"],
            ]
            for r in rows
        ],
    )
    _footnotes(rows)


def _footnotes(rows: list[dict]) -> None:
    """Errors and next steps below the table, where a long message does not squeeze the columns."""
    for row in rows:
        if row["last_error"]:
            click.echo(f"last error: {row['last_error']}")
    waiting = [r["name"] for r in rows if r["kind"] == "url" and not r["in_use"]]
    if waiting:
        click.echo(f"not downloaded yet: {', '.join(waiting)} (run 'whoknows lists update')")


def _row(sub, stats) -> dict:
    """One list as shown: stats from the engine in use (what the proxy blocks with), if loaded."""
    from whoknows.filters import subscriptions as filter_subscriptions

    live = filter_subscriptions.stats_dict(stats) if stats is not None else None
    return {
        "name": sub.name,
        "kind": sub.kind,
        "url": sub.url,
        "file": sub.file or (str(filter_subscriptions.BUILTIN_FILE) if sub.kind == "builtin" else None),
        "in_use": live is not None,
        "lines": live["lines"] if live else None,
        "filters_used": live["filters_used"] if live else None,
        "skipped": live["skipped"] if live else {},
        "downloaded": sub.downloaded,
        "last_update": sub.last_update,
        "last_attempt": sub.last_attempt,
        "last_error": sub.last_error,
        "etag": sub.etag,
        "last_modified": sub.last_modified,
    }


def _skipped_text(skipped: dict) -> str:
    """Skipped lines by kind of reason, commonest first (`--json` has every reason in detail).

    `unsupported-option:csp` and `unsupported-option:header` count as `unsupported-option`;
    comments are not filters, so the table leaves them out.
    """
    groups: dict[str, int] = {}
    for reason, count in skipped.items():
        kind = reason.partition(":")[0]
        if kind != "comment":
            groups[kind] = groups.get(kind, 0) + count
    ordered = sorted(groups.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{kind} {count:,}" for kind, count in ordered)


def _updated_text(row: dict) -> str:
    from whoknows.filters.subscriptions import local_date

    if row["kind"] == "url":
        return local_date(row["last_update"])
    return "on change" if row["kind"] == "file" else "built in"


def _warn(warnings) -> None:
    for warning in warnings:
        click.echo(f"whoknows: warning: {warning}", err=True)


@lists.command("add")
@click.argument("target", metavar="URL|FILE")
@click.option("--name", help="Name to show and to refer to the list by (default: from the URL or file).")
def add(target, name):
    """Subscribe to a filter list: a URL (downloaded by `lists update`) or a local file.

    A local file is referenced, not copied: edit it and the proxy uses the new version (the engine
    re-reads a list whenever its size, mtime or content changes). `add builtin` turns the built-in
    list back on.

    Examples:

    \b
        whoknows lists add https://easylist.to/easylist/easylist.txt
        whoknows lists add ~/my-blocks.txt --name mine
    """
    from whoknows.filters.subscriptions import add_subscription

    sub = add_subscription(target, name=name)
    if sub.kind == "url":
        click.echo(
            f"subscribed to {sub.name} ({sub.url}); download it with: whoknows lists update {sub.name}"
        )
    elif sub.kind == "file":
        used = sub.stats["filters_used"]
        click.echo(f"added {sub.name} ({sub.file}): {used:,} filters; re-read when it changes")
    else:
        click.echo("the built-in list is on again")


@lists.command("remove")
@click.argument("key", metavar="NAME|URL")
def remove(key):
    """Unsubscribe from a list (`remove builtin` turns the built-in list off).

    A downloaded copy is deleted; a local file of yours is left alone.

    Examples:

    \b
        whoknows lists remove mine
        whoknows lists remove builtin
    """
    from whoknows.filters.subscriptions import remove_subscription

    sub = remove_subscription(key)
    if sub.kind == "builtin":
        click.echo("the built-in list is off (turn it back on with: whoknows lists add builtin)")
    else:
        click.echo(f"removed {sub.name} ({sub.source})")


@lists.command("update")
@click.argument("names", nargs=-1, metavar="[NAME...]")
@click.option(
    "--timeout", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
    help="Give up on a server silent for this long (default 30).",
)
@json_option
@click.pass_context
def update(ctx, names, timeout, as_json):
    """Download the subscribed lists (or only NAME...), if they changed since the last time.

    A failed download keeps the last good copy; the exit status is 1 if any list failed.

    Examples:

    \b
        whoknows lists update
        whoknows lists update EasyPrivacy --timeout 60
    """
    from whoknows.filters.downloads import update_lists

    with _ProgressBar() as on_progress:
        results = update_lists(names, progress=on_progress, timeout=timeout)
    if as_json:
        print_json([dataclasses.asdict(r) for r in results])
    if not results:
        click.echo("no lists to download (subscribe with: whoknows lists add URL)", err=True)
    for result in results:
        if result.status == "failed":
            click.echo(f"whoknows: error: {result.message}", err=True)
        elif not as_json:
            click.echo(result.message)
    if any(r.status == "failed" for r in results):
        ctx.exit(1)


class _ProgressBar:
    """A rich progress bar per list on stderr, shown only on a terminal (logs stay clean)."""

    def __enter__(self):
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        from cli.output import console

        stderr = console(stderr=True)
        self.tasks = {}
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            console=stderr, transient=True, disable=not stderr.is_terminal,
        )
        self.progress.__enter__()
        return self.advance

    def advance(self, name: str, received: int, total: int | None) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=total)
        self.progress.update(self.tasks[name], completed=received, total=total)

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)
