"""`ember keys`: the access keys that may sign requests to `ember serve --auth sigv4`,
managed on the data dir directly (not over HTTP: they are what HTTP would need)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ember.cli.output import fail, table

_DATA_DIR_OPTION = click.option(
    "--data-dir",
    default=".ember",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The data dir of the server the keys are for (as given to `ember serve`).",
)


@click.group()
def keys() -> None:
    """Access keys that may sign requests to `ember serve --auth sigv4`."""


@keys.command(name="create")
@_DATA_DIR_OPTION
def create_key(data_dir: Path) -> None:
    """Create an access key; print its id and secret (the secret only this once)."""
    from ember.clock import SystemClock
    from ember.control.keys import open_keys

    access_keys, store = open_keys(data_dir.resolve(), SystemClock())
    try:
        key = access_keys.create()
    finally:
        store.close()
    click.echo(f"AWS_ACCESS_KEY_ID={key.key_id}")
    click.echo(f"AWS_SECRET_ACCESS_KEY={key.secret}")
    click.echo("ember: keep the secret now: `ember keys list` never shows it", err=True)


@keys.command(name="list")
@_DATA_DIR_OPTION
def list_keys(data_dir: Path) -> None:
    """List access keys (ids and creation times; never secrets)."""
    from ember.clock import SystemClock
    from ember.control.keys import open_keys

    access_keys, store = open_keys(data_dir.resolve(), SystemClock())
    try:
        found = access_keys.list()
    finally:
        store.close()
    rows = [("ACCESS KEY ID", "CREATED")]
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    rows += [(k.key_id, time.strftime(stamp, time.gmtime(k.created))) for k in found]
    table(rows)


@keys.command(name="delete")
@click.argument("key_id")
@_DATA_DIR_OPTION
def delete_key(key_id: str, data_dir: Path) -> None:
    """Delete access key KEY_ID: requests signed with it are refused within a second."""
    from ember.clock import SystemClock
    from ember.control.keys import open_keys

    access_keys, store = open_keys(data_dir.resolve(), SystemClock())
    try:
        deleted = access_keys.delete(key_id)
    finally:
        store.close()
    if not deleted:
        fail(f"no access key {key_id} in {data_dir}")
    click.echo(f"deleted {key_id}")
