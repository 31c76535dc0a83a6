"""`ember cost [NAME] [--since ...]`: what the functions' work here would have cost on AWS
Lambda, from the server's /_ember/cost report (AWS's public prices, free tier apart)."""

from __future__ import annotations

import click

from ember.cli.client import ApiError, LambdaClient
from ember.cli.output import fail, table


def usd(value: float) -> str:
    return f"${value:.8f}" if value < 0.01 else f"${value:,.2f}"


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6f}"


@click.command("cost")
@click.argument("name", required=False)
@click.option(
    "--since",
    default="month",
    show_default=True,
    help="From when: month (this UTC month, as Lambda bills), 90s, 30m, 2h, 7d, or a date.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def cost(client: LambdaClient, name: str | None, since: str, as_json: bool) -> None:
    """Price NAME's (or every function's) usage with AWS Lambda's prices: requests,
    GB-seconds of billed duration by architecture, provisioned concurrency, ephemeral
    storage beyond 512 MB, SnapStart caching. The free tier is shown apart."""
    query = {"since": since} | ({"function": name} if name else {})
    try:
        response = client.request("GET", "/_ember/cost", query=query)
    except ApiError as exc:
        fail(str(exc))
    if as_json:
        click.echo(response.body.decode())
        return
    doc = response.json()
    prices = doc["Prices"]
    click.echo(f"Usage from {doc['Since']} to {doc['Until']}")
    rows = [("FUNCTION", "ITEM", "QUANTITY", "UNIT", "COST")]
    for function in doc["Functions"]:
        rows += [
            (
                function["FunctionName"],
                line["Item"],
                _quantity(line["Quantity"]),
                line["Unit"],
                usd(line["Cost"]),
            )
            for line in function["Lines"]
        ]
    if len(rows) > 1:
        table(rows)
    else:
        click.echo("No usage recorded in this period.")
    free = doc["FreeTier"]
    click.echo(
        f"On AWS Lambda ({prices['Region']}) this would have cost {usd(doc['Total'])}: "
        f"{doc['Requests']} requests, {doc['GBSeconds']:.6f} GB-seconds."
    )
    click.echo(
        f"Free tier (apart): {free['Requests']:,} of {free['RequestsAllowance']:,} requests, "
        f"{free['GBSeconds']:,.6f} of {free['GBSecondsAllowance']:,.0f} GB-seconds, "
        f"worth {usd(free['Credit'])}; after it: {usd(doc['TotalAfterFreeTier'])}."
    )
    click.echo(f"Prices: {prices['Source']}, read {prices['Retrieved']}.")
