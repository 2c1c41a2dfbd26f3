"""`sigma-cloud` command line: serve, migrate, cognition, token, site create, robot register/keygen, maintenance."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path

import orjson
import psycopg

import sigma_protocol as protocol
from sigma_cloud.console import cli as console_cli
from sigma_cloud.core import service_log
from sigma_cloud.core.bootstrap import Runtime, prepare
from sigma_cloud.core.config import Settings
from sigma_cloud.core.observability import configure_logging
from sigma_cloud.core.security import HUMAN_ROLES, mint_token


def _port(text: str) -> int:
    """A TCP port number 0..65535 (0 = any free one), for argparse."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"a port is an integer 0..65535, got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigma-cloud", description="SigmaPrompt cloud fleet service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="prepare the database (embedded unless DATABASE_URL) and serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    sub.add_parser("migrate", help="create roles, apply migrations, create partitions")
    cognition = sub.add_parser("cognition", help="run a fleet-cognition worker (the Primary AI; several may run)")
    cognition.add_argument("--poll-s", type=float, default=1.0,
                           help="longest pause of a claim loop with nothing to do [s]; new telemetry wakes it at once "
                                "(LISTEN sigma_telemetry), this is the fallback")
    cognition.add_argument("--once", action="store_true", help="one pass, print what was done, exit")
    cognition.add_argument("--concurrency", type=int, default=2,
                           help="claim loops side by side in this process (robots are shared, none twice)")
    cognition.add_argument("--http-port", type=_port, default=None,
                           help="serve /healthz, /readyz and /metrics on this port (0 = any free one; default: none)")
    cognition.add_argument("--http-host", default="127.0.0.1",
                           help="address for --http-port (0.0.0.0 in a pod: probes and Prometheus reach it)")
    sub.add_parser("maintenance", help="one maintenance pass (partitions ahead, nonce purge, retention)")
    sub.add_parser("audit-verify", help="check the audit chain against its head and every signed checkpoint")
    token = sub.add_parser("token", help="mint a bearer JWT with the configured key (development)")
    token.add_argument("--role", choices=HUMAN_ROLES, default="fleet_admin")
    token.add_argument("--sites", default="", help="comma-separated site ids")
    token.add_argument("--subject", default="cli-user")
    token.add_argument("--ttl", type=int, default=None)
    site = sub.add_parser("site", help="manage sites").add_subparsers(dest="action", required=True)
    create = site.add_parser("create")
    create.add_argument("site_id")
    create.add_argument("--name", default=None)
    robot = sub.add_parser("robot", help="manage robots").add_subparsers(dest="action", required=True)
    keygen = robot.add_parser("keygen", help="generate an Ed25519 key pair (seed file for the robot)")
    keygen.add_argument("--out", type=Path, required=True, help="where to write the private seed (mode 0600)")
    register = robot.add_parser("register", help="register a robot and its public key")
    register.add_argument("robot_id")
    register.add_argument("--site", required=True)
    register.add_argument("--public-key", required=True)
    console_cli.add_parsers(sub)
    return parser


def main(args: list[str] | None = None) -> int:
    options = _parser().parse_args(args)
    settings = Settings()
    if options.command == "robot" and options.action == "keygen":
        seed, public = protocol.generate_keypair()
        options.out.write_text(seed)
        options.out.chmod(0o600)
        print(json.dumps({"public_key": public, "seed_file": str(options.out)}))
        return 0
    if options.command == "serve":
        import uvicorn

        from sigma_cloud.app.main import create_app

        runtime = prepare(settings)
        # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so `finally` still runs.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            if options.workers > 1:  # workers import the app from the environment
                uvicorn.run("sigma_cloud.app.asgi:app", host=options.host, port=options.port, log_level="warning",
                            workers=options.workers)
            else:
                uvicorn.run(create_app(settings, runtime), host=options.host, port=options.port, log_level="warning")
        finally:
            if runtime.started_embedded and runtime.embedded is not None:
                runtime.embedded.stop()
        return 0
    # JSON records on stderr and into the log store under the command's name (docs/logs.md "The cloud's own logs");
    # what is logged before the store is ready (migrations) is queued and sent once it is.
    configure_logging(settings.log_level)
    shipper = service_log.install(options.command, settings.log_store_level)
    released = False
    try:
        runtime = prepare(settings)
        try:
            if shipper is not None:
                shipper.start(runtime.api_url)
            _run_command(options, settings, runtime)
        finally:
            released = True
            service_log.release()  # sends what is queued while the database is still up
            if runtime.started_embedded and runtime.embedded is not None:
                runtime.embedded.stop()
    finally:
        if not released:  # prepare() failed: nothing can be stored
            service_log.release(timeout=0)
    return 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _run_command(options: argparse.Namespace, settings: Settings, runtime: Runtime) -> None:
    if console_cli.run(options, runtime.owner_url):  # user add|list|remove, console map (docs/console.md)
        return
    if options.command == "migrate":
        logging.getLogger("sigma_cloud.cli").info("database ready")  # into the log store as service "migrate"
        print("database ready")
    elif options.command == "cognition":
        import asyncio

        from sigma_cloud.cognition.main import run_worker

        asyncio.run(run_worker(runtime.api_url, poll_s=options.poll_s, once=options.once,
                               concurrency=max(1, options.concurrency), http_host=options.http_host,
                               http_port=options.http_port))
    elif options.command == "maintenance":
        from sigma_cloud.core.maintenance import run_once

        print(json.dumps(run_once(runtime.owner_url, settings)))
    elif options.command == "audit-verify":
        from sigma_cloud.core.audit_anchor import verify_checkpoints

        with psycopg.connect(runtime.owner_url, autocommit=True) as conn:
            problems = verify_checkpoints(conn, settings)
        print(json.dumps({"intact": not problems, "problems": problems}))
        if problems:
            raise SystemExit(1)
    elif options.command == "token":
        sites = [s for s in options.sites.split(",") if s]
        print(mint_token(settings, runtime.jwt_secret, subject=options.subject, role=options.role, sites=sites,
                         now=time.time(), ttl_s=options.ttl))
    elif options.command == "site":
        with psycopg.connect(runtime.owner_url, autocommit=True) as conn, conn.transaction():
            conn.execute("INSERT INTO sites (site_id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (options.site_id, options.name or options.site_id))
        print(json.dumps({"site_id": options.site_id}))
    elif options.command == "robot":
        protocol.load_verify_key(options.public_key)
        with psycopg.connect(runtime.owner_url, autocommit=True) as conn, conn.transaction():
            conn.execute("INSERT INTO robots (robot_id, site_id, public_key) VALUES (%s, %s, %s)",
                         (options.robot_id, options.site, options.public_key))
            conn.execute("INSERT INTO robot_ingest_state (robot_id, site_id) VALUES (%s, %s)",
                         (options.robot_id, options.site))
            conn.execute("INSERT INTO audit_log (actor, action, site_id, target, detail, prev_hash, hash) VALUES "
                         "('cli', 'robot.register', %s, %s, %s::jsonb, '', '')",
                         (options.site, options.robot_id, orjson.dumps({"public_key": options.public_key}).decode()))
        print(json.dumps({"robot_id": options.robot_id, "site_id": options.site}))


if __name__ == "__main__":
    sys.exit(main())
