"""`sigma-cloud user add|list|remove` and `sigma-cloud console map`: console users and site floor plans."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

import orjson
import psycopg

from sigma_cloud.console import sitemap, users
from sigma_cloud.core.security import HUMAN_ROLES

PASSWORD_ENV = "SIGMA_CONSOLE_PASSWORD"  # noqa: S105 - the name of a variable, not a password


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the console's subcommands on the main parser."""
    user = sub.add_parser("user", help="manage console users (docs/console.md)").add_subparsers(
        dest="action", required=True)
    add = user.add_parser("add", help=f"create or update a user; password from stdin, ${PASSWORD_ENV} or a prompt")
    add.add_argument("username")
    add.add_argument("--role", choices=HUMAN_ROLES, required=True)
    add.add_argument("--sites", default="", help="comma-separated site ids (required except for fleet_admin)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    user.add_parser("list", help="list console users")
    remove = user.add_parser("remove", help="delete a console user")
    remove.add_argument("username")
    console = sub.add_parser("console", help="console set-up").add_subparsers(dest="action", required=True)
    site_map = console.add_parser("map", help="store a site's floor plan from a sigma_sim world file")
    site_map.add_argument("site_id")
    site_map.add_argument("world", type=Path, help="world YAML (e.g. src/sigma_sim/worlds/warehouse.yaml)")
    site_map.add_argument("--foxglove", default="",
                          help="robot=ws://host:port,... (or *=ws://{robot_id}:8765) for the robots' Foxglove links")


def _password(options: argparse.Namespace) -> str:
    if options.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("passwords differ")
    return first


def run(options: argparse.Namespace, owner_url: str) -> bool:
    """Carry out a console subcommand; False when `options` is not one."""
    if options.command == "user":
        with psycopg.connect(owner_url, autocommit=True) as conn:
            if options.action == "add":
                sites = [s for s in options.sites.split(",") if s]
                try:
                    if options.role != "fleet_admin" and not sites:  # before asking for a password
                        raise ValueError(f"role {options.role} needs --sites (the sites they may see)")
                    users.add_user(conn, username=options.username, password=_password(options), role=options.role,
                                   sites=sites)
                except EOFError as exc:
                    raise SystemExit("sigma-cloud user add: no password given") from exc
                except ValueError as exc:
                    raise SystemExit(f"sigma-cloud user add: {exc}") from exc
                print(json.dumps({"username": options.username, "role": options.role, "sites": sites}))
            elif options.action == "list":
                print(json.dumps(users.list_users(conn)))
            elif not users.remove_user(conn, options.username):
                raise SystemExit(f"no console user {options.username}")
        return True
    if options.command == "console":
        try:
            site_map = sitemap.from_world(options.world)
            site_map["foxglove"] = dict(p.split("=", 1) for p in options.foxglove.split(",") if p)
            site_map = sitemap.validate(site_map)
        except (OSError, KeyError, ValueError) as exc:
            raise SystemExit(f"sigma-cloud console map: {exc}") from exc
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute("INSERT INTO site_maps (site_id, map, updated_by) VALUES (%s, %s::jsonb, 'cli') "
                         "ON CONFLICT (site_id) DO UPDATE SET map = EXCLUDED.map, updated_by = 'cli', "
                         "updated_at = now()", (options.site_id, orjson.dumps(site_map).decode()))
        print(json.dumps({"site_id": options.site_id, "zones": len(site_map["zones"]),
                          "shelves": len(site_map["shelves"]), "docks": len(site_map["docks"])}))
        return True
    return False
