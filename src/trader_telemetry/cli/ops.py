"""``trader-telemetry ops render``: write the operator bundle for one namespace and job.

Writes the scrape config, the alert rules and their promtool tests, the Alertmanager config, the
Grafana dashboard with its provisioning, a compose file and a README into ``--out``, then prints
the paths written (stdout, one per line). Bad options are a one-line error on stderr and exit 2;
a directory that cannot be written is exit 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Final

from ..config import Thresholds, load_thresholds
from ..errors import ConfigurationError
from ..ops.options import DEFAULT_RUNBOOK_BASE, MODES, OpsOptions
from .exits import EXIT_USAGE

__all__ = ["options_from_args", "register"]

_PROG: Final = "trader-telemetry ops render"


def options_from_args(args: argparse.Namespace) -> OpsOptions:
    """Build the :class:`OpsOptions` of a parsed ``ops render`` command line.

    Raises:
        ConfigurationError: when a value is invalid (the message names it).
    """
    thresholds = Thresholds() if args.thresholds is None else load_thresholds(args.thresholds)
    return OpsOptions(
        namespace=args.namespace,
        job=args.job or "",
        targets=tuple(args.targets or ()),
        targets_file=args.targets_file,
        alertmanager=None if args.no_alertmanager else args.alertmanager,
        runbook_base=args.runbook_base,
        scrape_interval_seconds=args.scrape_interval,
        thresholds=thresholds,
        scheme=args.scheme,
        ca_file=args.ca_file,
        client_cert_file=args.client_cert,
        client_key_file=args.client_key,
        basic_auth_user=args.basic_auth_user,
        basic_auth_password_file=args.basic_auth_password_file,
        mode=args.mode,
        remote_write_url=args.remote_write,
    )


def _render(args: argparse.Namespace) -> int:
    try:
        options = options_from_args(args)
        # Imported here: only this command needs the rule, dashboard and compose builders, and
        # `trader-telemetry demo` or `health` should not pay for loading them.
        from ..ops.bundle import write_files  # noqa: PLC0415
        from ..ops.stack import compose_warnings  # noqa: PLC0415

        paths = write_files(options, args.out)
    except ConfigurationError as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"{_PROG}: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    for warning in compose_warnings(options):
        print(f"{_PROG}: warning: {warning}", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    """Add the ``ops`` subcommand and its ``render`` subcommand.

    Args:
        commands: The ``add_subparsers()`` object of the top-level parser.
    """
    parser = commands.add_parser("ops", help="operator artefacts: scrape config, alerts, dashboard")
    actions = parser.add_subparsers(dest="ops", metavar="ACTION", required=True)
    render = actions.add_parser(
        "render",
        help="write prometheus.yml, alert rules and tests, Grafana, compose bundle",
        description="Render the monitoring bundle for one bot (or fleet) into a directory.",
    )
    render.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    render.add_argument("--namespace", default="trader", help="metric namespace (default: trader)")
    render.add_argument("--job", default=None, help="Prometheus job name (default: the namespace)")
    targets = render.add_mutually_exclusive_group()
    targets.add_argument(
        "--targets",
        nargs="+",
        action="extend",
        metavar="HOST:PORT",
        help="static scrape targets (default: host.docker.internal:9000, the bot on the host)",
    )
    targets.add_argument(
        "--targets-file",
        metavar="F",
        help="file_sd targets file, as Prometheus sees it (relative: next to prometheus.yml)",
    )
    render.add_argument(
        "--thresholds", metavar="FILE", help="TOML or JSON file of Thresholds fields"
    )
    alerting = render.add_mutually_exclusive_group()
    alerting.add_argument(
        "--alertmanager",
        default="alertmanager:9093",
        metavar="HOST:PORT",
        help="where Prometheus sends alerts (default: alertmanager:9093, the bundled one)",
    )
    alerting.add_argument(
        "--no-alertmanager", action="store_true", help="no alerting block, no Alertmanager"
    )
    render.add_argument(
        "--scrape-interval",
        type=int,
        default=5,
        metavar="SECONDS",
        help="scrape and rule evaluation interval (default: 5)",
    )
    render.add_argument(
        "--runbook-base",
        default=DEFAULT_RUNBOOK_BASE,
        metavar="URL",
        help="URL of docs/runbooks.md that runbook_url annotations link to",
    )
    fleet = render.add_argument_group("a fleet past one machine (docs/ops.md)")
    fleet.add_argument(
        "--mode",
        choices=MODES,
        default="server",
        help="server: one prometheus.yml scrapes every target (default); agent: a Prometheus "
        "agent config per target host, remote-writing to --remote-write, and receiver.yml",
    )
    fleet.add_argument(
        "--remote-write",
        default=None,
        metavar="URL",
        help="the central receiver's remote-write URL (agent mode), e.g. "
        "http://central:9090/api/v1/write",
    )
    secure = render.add_argument_group(
        "a bot behind TLS and basic auth (its web_config); paths as Prometheus sees them"
    )
    secure.add_argument("--scheme", choices=("http", "https"), default="http")
    secure.add_argument("--ca-file", default=None, metavar="F", help="CA of the bot's certificate")
    secure.add_argument("--client-cert", default=None, metavar="F", help="client cert for mTLS")
    secure.add_argument("--client-key", default=None, metavar="F", help="its key")
    secure.add_argument("--basic-auth-user", default=None, metavar="USER")
    secure.add_argument(
        "--basic-auth-password-file",
        default=None,
        metavar="F",
        help="file holding the password (never written into the rendered files)",
    )
    render.set_defaults(handler=_render)
