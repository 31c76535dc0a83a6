"""`ember`: the command group; each command lives in the module named for what it works
on (serve: the server; functions, monitoring: clients of the HTTP API; keys: the data dir)."""

from __future__ import annotations

import click

from ember.cli.client import LambdaClient
from ember.cli.cost import cost
from ember.cli.functions import deploy, invoke, list_functions
from ember.cli.keys import keys
from ember.cli.metrics import function_metrics
from ember.cli.monitoring import logs, queue_status
from ember.cli.serve import doctor, serve

DEFAULT_ENDPOINT = "http://127.0.0.1:9001"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--endpoint",
    default=DEFAULT_ENDPOINT,
    envvar="EMBER_ENDPOINT",
    show_default=True,
    help="The Ember server the client commands talk to.",
)
@click.pass_context
def cli(ctx: click.Context, endpoint: str) -> None:
    """Ember: run AWS Lambda functions on your own machine."""
    ctx.obj = LambdaClient(endpoint)


for _command in (
    serve,
    doctor,
    deploy,
    invoke,
    list_functions,
    logs,
    queue_status,
    function_metrics,
    cost,
    keys,
):
    cli.add_command(_command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
