"""The `whoknows` command group.

Subcommands live one concern per module and are imported only when called, so a command that does
not run the proxy never imports mitmproxy (or rich, or the Public Suffix List) just to start.
"""

import importlib
import importlib.util
import os
import sys
from typing import NoReturn

import click

from whoknows.errors import InputError, WhoknowsError

# name -> "module:attribute". A module that does not exist (yet) simply has no command.
COMMANDS = {
    "alias": "cli.alias:alias",
    "check": "cli.check:check",
    "companies": "cli.companies:companies",
    "company": "cli.companies:company",
    "doctor": "cli.doctor:doctor",
    "export": "cli.transfer:export_ledger",
    "extension": "cli.extension:extension",
    "findings": "cli.findings:findings",
    "import": "cli.transfer:import_ledger",
    "intent": "cli.intent:intent",
    "intents": "cli.intent:intents",
    "knows": "cli.disclosures:knows",
    "leaks": "cli.leaks:leaks",
    "lists": "cli.lists:lists",
    "mail": "cli.mail:mail",
    "me": "cli.me:me",
    "prefs": "cli.prefs:prefs",
    "proxy": "cli.proxy:proxy",
    "report": "cli.report:report",
    "request": "cli.rights:rights_request",
    "requests": "cli.rights:rights_requests",
    "settings": "cli.settings:settings",
    "setup": "cli.setup:setup",
    "site": "cli.site:site",
    "tell": "cli.disclosures:tell",
    "terms": "cli.terms:terms",
    "trackers": "cli.trackers:trackers",
    "vendor": "cli.vendor:vendor",
    "who": "cli.companies:who",
}


def _exists(target: str) -> bool:
    module = target.partition(":")[0]
    return importlib.util.find_spec(module) is not None


class NonEmpty(click.ParamType):
    """A positional argument's own type, refusing an empty (or blank) value: `Path("")` is the
    current directory and `""` names no vendor, so an empty argument is a usage error everywhere."""

    def __init__(self, inner: click.ParamType):
        self.inner = inner
        self.name = inner.name
        self.arity, self.is_composite = inner.arity, inner.is_composite
        self.envvar_list_splitter = inner.envvar_list_splitter

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("must not be empty", param, ctx)
        return self.inner.convert(value, param, ctx)

    def get_metavar(self, param, ctx):
        return self.inner.get_metavar(param, ctx)

    def get_missing_message(self, param, ctx):
        return self.inner.get_missing_message(param, ctx)

    def shell_complete(self, ctx, param, incomplete):
        return self.inner.shell_complete(ctx, param, incomplete)

    def to_info_dict(self):
        return self.inner.to_info_dict()


def refuse_empty_arguments(command: click.Command) -> click.Command:
    """Give every positional argument of `command` (and of its subcommands) the NonEmpty check:
    one check for all commands, where each command would otherwise need its own."""
    for param in command.params:
        if isinstance(param, click.Argument) and not isinstance(param.type, NonEmpty):
            param.type = NonEmpty(param.type)
    for subcommand in getattr(command, "commands", {}).values():
        refuse_empty_arguments(subcommand)
    return command


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"whoknows: error: {message}", err=True)
    sys.exit(code)


class WhoknowsGroup(click.Group):
    """Lazy subcommands, one-line errors (exit 2 for usage errors, 1 for everything else), and no
    empty positional argument anywhere (`refuse_empty_arguments`)."""

    def list_commands(self, ctx):
        return sorted(name for name, target in COMMANDS.items() if _exists(target))

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None or not _exists(target):
            return None
        module, _, attr = target.partition(":")
        return refuse_empty_arguments(getattr(importlib.import_module(module), attr))

    def main(self, args=None, prog_name=None, **extra):
        extra.pop("standalone_mode", None)
        try:
            code = super().main(args, prog_name=prog_name, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # a bare group (`whoknows alias`): its help, exit 0
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            fail(exc.format_message() + hint, 2)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            fail("aborted", 1)
        except InputError as exc:
            fail(str(exc), 2)
        except WhoknowsError as exc:
            fail(str(exc), 1)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BrokenPipeError:
            sys.exit(1)
        except Exception as exc:  # a bug: say so in one line, the traceback only on request
            if os.environ.get("WHOKNOWS_DEBUG"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (set WHOKNOWS_DEBUG=1 for the traceback)", 1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=WhoknowsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="whoknows", message="whoknows %(version)s")
def cli():
    """whoknows: what every company knows about you, and who told whom.

    Per-vendor email aliases, a proxy that strips tracking, and one ledger of what each vendor knows.

    Examples:

    \b
        whoknows alias new shop.example
        whoknows knows email
    """


def main():
    cli.main(prog_name="whoknows")
